import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import {
  NEEDS_NETWORK,
  runSeedFleet,
  seedFleetMarkdown,
  type SeedFleetReport,
} from '../../scripts/seed-fleet.js';
import { ROOT } from '../helpers.js';

/**
 * The seed document's servers through mcp-fleet: built, synthesized, run, listed and called. The
 * report is written to docs/seed-fleet.md, as `npm run seed-fleet` does.
 */
let report: SeedFleetReport;

before(async () => {
  report = await runSeedFleet({ log: (s) => process.stderr.write(`# ${s}\n`) });
  await writeFile(path.join(ROOT, 'docs', 'seed-fleet.md'), seedFleetMarkdown(report));
});

describe('the seed fleet (examples/seed/servers.yaml)', () => {
  test('every server builds: installed, tools discovered (or taken from its checked-in file) and lowered', () => {
    const failed = report.rows
      .filter((r) => r.buildError !== undefined)
      .map((r) => `${r.id}: ${r.buildError ?? ''}`);
    assert.deepEqual(failed, []);
    for (const r of report.rows) assert.ok((r.tools ?? 0) > 0, `${r.id}: no tools`);
    assert.ok(report.rows.length >= 18);
  });

  test('synth of the whole fleet: cdk-nag clean, cfn-lint without errors', () => {
    assert.ok(!('error' in report.synth), 'error' in report.synth ? report.synth.error : '');
    if ('resources' in report.synth) {
      assert.ok(report.synth.resources > report.rows.length * 5);
      assert.match(report.synth.cfnLint, /^(no findings|0 errors)/);
    }
  });

  test('in dev, every server that can start offline lists its tools; the others fail fast with the reason', () => {
    for (const r of report.rows) {
      const expected = NEEDS_NETWORK[r.id];
      if (expected) {
        assert.match(
          r.startError ?? '',
          expected.error,
          `${r.id} should fail to start: ${r.startError ?? 'it listed tools'}`,
        );
      } else {
        assert.equal(r.startError, undefined, `${r.id}: ${r.startError ?? ''}`);
        assert.equal(r.listed, r.tools, `${r.id}: the gateway lists what the build discovered`);
      }
    }
  });

  test('one offline tool call per server that has one succeeds through the gateway', () => {
    const called = report.rows.filter((r) => r.call !== undefined);
    assert.ok(called.length >= 10, `only ${called.length} calls`);
    for (const r of called)
      assert.ok(r.call?.ok, `${r.id}: ${r.call?.tool ?? ''} → ${r.call?.excerpt ?? ''}`);
  });
});
