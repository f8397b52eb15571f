/**
 * The config loader under generated hostile input (fast-check): random text and bytes, random
 * YAML documents, random edits of a valid config (as values, and as text). It never throws; it
 * answers with problems that say what and where (a line and column inside the file, a message
 * in words), or with a config when there is no error.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { parseConfig, type LoadResult } from '../../src/config/index.js';
import { fixture } from '../helpers.js';
import { assertNoStackTrace, hostileJson, property } from '../properties.js';

const VALID = readFileSync(fixture('config', 'good', 'defaults.yaml'), 'utf8');
const FILE = 'fuzz/servers.yaml';

function check(text: string): LoadResult {
  let result: LoadResult;
  try {
    result = parseConfig(text, { file: FILE });
  } catch (err) {
    assert.fail(
      `parseConfig threw: ${(err as Error).stack ?? String(err)}\n--- input ---\n${text.slice(0, 500)}`,
    );
  }
  assert.ok(Array.isArray(result.problems));
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const p of result.problems) {
    const where = `${JSON.stringify(p)}\n--- input ---\n${text.slice(0, 300)}`;
    assert.ok(p.severity === 'error' || p.severity === 'warning', where);
    assert.equal(p.file, FILE, where);
    assert.ok(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines + 1, `line: ${where}`);
    assert.ok(Number.isInteger(p.column) && p.column >= 1, `column: ${where}`);
    assert.equal(typeof p.path, 'string', where);
    assert.ok(typeof p.message === 'string' && p.message.trim() !== '', `message: ${where}`);
    assert.doesNotMatch(p.message, /\[object Object\]|\bNaN\b/, `message in words: ${where}`);
    assertNoStackTrace(p.message, where);
  }
  const errors = result.problems.filter((p) => p.severity === 'error');
  if (result.config === undefined) assert.ok(errors.length > 0, 'no config, so at least one error says why');
  else {
    assert.equal(errors.length, 0);
    for (const s of result.config.servers) {
      assert.equal(typeof s.command, 'string');
      assert.match(s.functionName, /^mcp-server-/);
    }
  }
  return result;
}

/** Every path (keys and indexes) into a JSON-like value. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

type Edit =
  | { kind: 'set'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'rename'; at: number; name: string };

/** Applies edits to a copy of the valid config (each edit picks a path by index, modulo). */
function edited(edits: Edit[]): unknown {
  const doc = parse(VALID) as Record<string, unknown>;
  for (const edit of edits) {
    const all = paths(doc).filter((p) => p.length > 0);
    const target = all[edit.at % all.length];
    if (target === undefined) break;
    const parent = target.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], doc) as
      Record<string | number, unknown> | unknown[];
    const key = target[target.length - 1] as string | number;
    if (edit.kind === 'set') (parent as Record<string | number, unknown>)[key] = edit.value;
    else if (edit.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else Reflect.deleteProperty(parent, key);
    } else if (!Array.isArray(parent)) {
      const value = parent[key];
      Reflect.deleteProperty(parent, key);
      parent[edit.name] = value;
    }
  }
  return doc;
}

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: hostileJson }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('rename' as const),
    at: fc.nat(),
    name: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('command', 'aws', 'env', 'servers', '<<', '__proto__'),
    ),
  }),
);

/** Text edits: a span replaced by random text (broken indentation, quotes, flow collections). */
const textEdit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 12 }),
  insert: fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '\n',
      '\t',
      '  ',
      ': ',
      '- ',
      '{',
      '}',
      '[',
      ']',
      '"',
      "'",
      '&a ',
      '*a',
      '!!binary ',
      '? ',
      '|',
      '>',
      '#',
      '%YAML 1.1\n---\n',
      '\u0000',
      '\ufeff',
    ),
  ),
});

test('random text and bytes: problems with a place and words, never a crash', async (t) => {
  await property(
    t,
    'config loader: random text and bytes',
    fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 400 }),
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('utf8')),
    ),
    (text) => {
      check(text);
    },
    1000,
  );
});

test('random YAML documents: the same', async (t) => {
  await property(
    t,
    'config loader: random YAML documents',
    fc.oneof(
      hostileJson,
      fc.dictionary(fc.string({ maxLength: 12 }), hostileJson),
      fc.record({ servers: fc.dictionary(fc.string({ maxLength: 12 }), hostileJson) }, { requiredKeys: [] }),
    ),
    (doc) => {
      check(stringify(doc));
    },
    600,
  );
});

test('random edits of a valid config, as values: each one reported where it is', async (t) => {
  check(VALID);
  assert.ok(parseConfig(VALID).config, 'the starting point is valid');
  await property(
    t,
    'config loader: edits of a valid config (values)',
    fc.array(edit, { minLength: 1, maxLength: 4 }),
    (edits) => {
      check(stringify(edited(edits)));
    },
    800,
  );
});

test('random edits of a valid config, as text (indentation, quotes, anchors): the same', async (t) => {
  await property(
    t,
    'config loader: edits of a valid config (text)',
    fc.array(textEdit, { minLength: 1, maxLength: 4 }),
    (edits) => {
      let text = VALID;
      for (const e of edits) {
        const at = e.at % (text.length + 1);
        text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
      }
      check(text);
    },
    1000,
  );
});

test('a billion laughs (aliases of aliases) is refused, not expanded', () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  lines.push('servers: { x: { command: *j } }');
  const result = check(lines.join('\n'));
  assert.equal(result.config, undefined);
  // Refused by the parser's alias limit (before any expansion), not after expanding it.
  assert.match(result.problems[0]?.message ?? '', /Excessive alias count/);
});
