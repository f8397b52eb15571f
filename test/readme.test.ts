import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type * as z from 'zod';
import { fleetSchema } from '../src/config/schema.js';
import { ROOT } from './helpers.js';

/** Every key any object in the model accepts, found by walking the zod schema. */
function modelKeys(
  schema: z.core.$ZodType,
  into = new Set<string>(),
  seen = new Set<unknown>(),
): Set<string> {
  if (seen.has(schema)) return into;
  seen.add(schema);
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'object') {
    for (const [key, value] of Object.entries(def['shape'] as Record<string, z.core.$ZodType>)) {
      if (!key.startsWith('$')) into.add(key);
      modelKeys(value, into, seen);
    }
  }
  for (const field of ['innerType', 'in', 'out', 'valueType', 'element']) {
    const inner = def[field] as z.core.$ZodType | undefined;
    if (inner?._zod !== undefined) modelKeys(inner, into, seen);
  }
  for (const option of (def['options'] as z.core.$ZodType[] | undefined) ?? []) modelKeys(option, into, seen);
  return into;
}

test('the README configuration reference names every key of the model', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const reference = readme.slice(readme.indexOf('## Configuration reference'), readme.indexOf('## Commands'));
  const keys = [...modelKeys(fleetSchema)];
  assert.ok(keys.length > 40, `walked only ${keys.length} keys`);
  const missing = keys.filter((k) => !reference.includes(`\`${k}\``));
  assert.deepEqual(
    missing,
    [],
    `keys missing from the README's configuration reference: ${missing.join(', ')}`,
  );
});

test('the README gives the commands CI runs', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const ci = await readFile(path.join(ROOT, '.ci', 'run'), 'utf8');
  const ciCommands = ci.split('\n').filter((l) => /^(npm|pip|pip3|python3?|uv) /.test(l));
  // Debian packages for the browser and aws CLI tests are installed by CI itself (README, Tests).
  assert.match(ci, /apt-get install .*chromium awscli/);
  // The README's two commands, nothing else: npm test installs its own Python tools.
  assert.deepEqual(ciCommands, ['npm ci', 'npm test']);
  for (const c of ciCommands) assert.ok(readme.includes(`\n${c}`), `README does not show ${c}`);
});
