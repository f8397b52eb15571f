import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configJsonSchema } from '../../config/index.js';
import { EXIT } from '../exit.js';

export async function schemaCommand(options: { out?: string }): Promise<number> {
  const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
  if (options.out === undefined) {
    process.stdout.write(text);
  } else {
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, text);
  }
  return EXIT.OK;
}
