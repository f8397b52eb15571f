import { readFile, writeFile } from 'node:fs/promises';
import { formatProblem, importClientConfig, ImportError, parseConfig } from '../../config/index.js';
import { CliError, EXIT } from '../exit.js';
import { exists } from '../fs.js';
import { schemaComment } from '../paths.js';

export interface ImportOptions {
  out?: string;
  force?: boolean;
}

export async function importCommand(input: string, options: ImportOptions): Promise<number> {
  let text: string;
  try {
    text = await readFile(input, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${input}: ${(err as Error).message}`);
  }
  const outFile = options.out ?? 'servers.yaml';
  let result;
  try {
    result = importClientConfig(text, { file: input, schemaComment: schemaComment(outFile) });
  } catch (err) {
    if (err instanceof ImportError) throw new CliError(err.message);
    throw err;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  for (const s of result.converted) log(`✓ ${s.name} → ${s.id}`);
  for (const n of result.notes) log(`! ${n.name}: ${n.message}`);
  for (const s of result.skipped) log(`✗ ${s.name}: not imported: ${s.message}`);
  if (result.converted.length === 0) throw new CliError(`nothing in ${input} could be converted`);

  // What we write must load; say so if it does not (e.g. a server id we could not make valid).
  const check = parseConfig(result.yaml, { file: outFile });
  for (const p of check.problems) log(formatProblem(p));

  if (options.out === undefined) {
    process.stdout.write(result.yaml);
  } else {
    if (options.force !== true && (await exists(options.out))) {
      throw new CliError(`${options.out} already exists; use --force to overwrite it`);
    }
    await writeFile(options.out, result.yaml);
    log(
      `Wrote ${options.out}: ${result.converted.length} server(s)${result.skipped.length > 0 ? `, ${result.skipped.length} not imported` : ''}.`,
    );
  }
  return check.config !== undefined ? EXIT.OK : EXIT.FAILURE;
}
