import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { configJsonSchema } from '../../src/config/index.js';
import { starterConfig } from '../../src/cli/commands/init.js';
import { ROOT, fixture } from '../helpers.js';

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(configJsonSchema());
const load = async (file: string): Promise<unknown> => parse(await readFile(file, 'utf8'));

test('the generated JSON Schema accepts the shipped configs in both forms', async () => {
  for (const file of [
    path.join(ROOT, 'servers.yaml'),
    path.join(ROOT, 'examples', 'seed', 'servers.yaml'),
    fixture('config', 'good', 'seed-form.yaml'),
    fixture('config', 'good', 'defaults.yaml'),
  ]) {
    assert.equal(validate(await load(file)), true, `${file}: ${ajv.errorsText(validate.errors)}`);
  }
  assert.equal(validate(parse(starterConfig('servers.yaml'))), true, ajv.errorsText(validate.errors));
});

test('the generated JSON Schema refuses what the model refuses', async () => {
  for (const name of [
    'timeout-above-maximum.yaml',
    'unknown-key-typo.yaml',
    'isolation-unknown.yaml',
    'memory-below-minimum.yaml',
    'args-not-a-list.yaml',
  ]) {
    assert.equal(validate(await load(fixture('config', 'bad', name))), false, name);
  }
});

test('the schema file written by the build is the generated one, and examples point at it', async () => {
  const built = JSON.parse(
    await readFile(path.join(ROOT, 'schema', 'servers.schema.json'), 'utf8'),
  ) as unknown;
  assert.deepEqual(built, configJsonSchema());
  const seed = await readFile(path.join(ROOT, 'examples', 'seed', 'servers.yaml'), 'utf8');
  assert.match(seed, /^# yaml-language-server: \$schema=\.\.\/\.\.\/schema\/servers\.schema\.json$/m);
  const defaults = await readFile(path.join(ROOT, 'servers.yaml'), 'utf8');
  assert.match(defaults, /^# yaml-language-server: \$schema=\.\/schema\/servers\.schema\.json$/m);
});

test('descriptions reach the schema, for editor hovers', () => {
  const text = JSON.stringify(configJsonSchema());
  assert.match(text, /Lambda timeout in seconds, 1–900/);
  assert.match(text, /Where the server comes from, pinned/);
});
