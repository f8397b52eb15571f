/**
 * Shared by the property-based tests (fast-check): a fixed seed (MCP_FLEET_FC_SEED to change it),
 * a scale for the number of runs (MCP_FLEET_FC_SCALE), and a report of how many inputs each
 * property ran.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { ROOT } from './helpers.js';

export const FC_SEED = Number(process.env['MCP_FLEET_FC_SEED'] ?? 20261111);
export const FC_SCALE = Number(process.env['MCP_FLEET_FC_SCALE'] ?? 1);

/**
 * Checks `predicate` on `runs` generated inputs (scaled), and reports the count: as a test
 * diagnostic and on stdout (`# property "...": N inputs`).
 */
export async function property<T>(
  t: TestContext,
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (input: T) => Promise<void> | void,
  runs: number,
): Promise<number> {
  let inputs = 0;
  const numRuns = Math.max(1, Math.round(runs * FC_SCALE));
  const t0 = performance.now();
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        inputs += 1;
        await predicate(input);
      }),
      { seed: FC_SEED, numRuns, includeErrorInReport: true },
    );
  } finally {
    const line = `property "${name}": ${inputs} inputs (seed ${FC_SEED}, ${Math.round(performance.now() - t0)} ms)`;
    t.diagnostic(line);
    process.stdout.write(`# ${line}\n`);
  }
  return inputs;
}

/** What a stack trace or an internal path looks like in text sent to a client. */
const STACK = [
  /\n\s+at\s[^\n]*(\(|:\d+:\d+)/,
  /node:internal/,
  /\/node_modules\//,
  new RegExp(ROOT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')),
];

export function assertNoStackTrace(text: string, where: string): void {
  for (const re of STACK)
    assert.doesNotMatch(text, re, `${where}: a stack trace or internal path reached the client`);
}

/** JSON-ish values with the shapes that break parsers: huge numbers, long strings, deep nesting. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    -0,
    0.1,
    '',
    '\u0000',
    '\ud800',
    'x'.repeat(100_000),
    [],
    {},
    null,
    true,
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
