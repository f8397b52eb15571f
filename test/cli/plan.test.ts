// `mcp-fleet plan` as a user runs it (dist/cli/main.js): on the seed fleet with the benchmark's
// concurrency results, on a fleet whose memory server declares `state: session`, with what
// `mcp-fleet dev` recorded, as text, and its usage errors.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { ServerMeasurements } from '../../src/contract/measurements.js';
import { emptyMeasurements } from '../../src/local/lambda/measurements.js';
import type { FleetPlan } from '../../src/plan/plan.js';
import { ROOT, runCli, tempDir } from '../helpers.js';

const SEED = path.join(ROOT, 'examples', 'seed', 'servers.yaml');
/** bench:server-concurrency's verdicts, committed beside the seed: plan reads them by default. */
const BENCH = path.join(ROOT, 'examples', 'seed', 'server-concurrency.json');

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(async () => {
  await tmp.cleanup();
});

async function planJson(args: string[]): Promise<FleetPlan> {
  const r = await runCli(['plan', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as FleetPlan;
}

describe('mcp-fleet plan on the seed fleet', () => {
  let plan: FleetPlan;
  before(async () => {
    plan = await planJson(['--config', SEED, '--rate', '2/s', '--state', 'git-repo-research=session']);
  });

  test('every enabled server is advised a host, with reasons and a cost on each host', async () => {
    const { config } = await loadConfig(SEED);
    assert.ok(config);
    const enabled = config.servers.filter((s) => s.enabled).map((s) => s.id);
    assert.deepEqual(
      plan.servers.map((s) => s.server),
      enabled,
    );
    assert.equal(plan.callsPerMonth, 2 * 730 * 3600);
    for (const s of plan.servers) {
      assert.ok(
        ['function', 'web-function', 'managed-instances', 'agentcore-runtime'].includes(s.advisedHost),
      );
      assert.ok(s.reasons.length > 0, s.server);
      assert.equal(s.costs.length, 4, s.server);
      const fn = s.costs.find((c) => c.host === 'function');
      assert.ok(fn?.eligible === true && typeof fn.monthlyUsd === 'number' && fn.monthlyUsd > 0, s.server);
    }
  });

  test('the stateful server declared state gets agentcore-runtime', () => {
    const s = plan.servers.find((p) => p.server === 'git-repo-research');
    assert.equal(s?.advisedHost, 'agentcore-runtime');
    assert.equal(s.rule, 'state');
    assert.match(s.reasons[0] ?? '', /--state git-repo-research=session/);
  });

  test('pypi servers cannot take the Node.js-zip hosts; servers measured serial get function', async () => {
    const { config } = await loadConfig(SEED);
    const bench = JSON.parse(await readFile(BENCH, 'utf8')) as {
      rows: { id: string; verdict: { kind: string } }[];
    };
    for (const s of plan.servers) {
      const kind = config?.servers.find((c) => c.id === s.server)?.package?.kind;
      const zip = kind === 'npm' || kind === 'go';
      for (const host of ['web-function', 'managed-instances'])
        assert.equal(s.costs.find((c) => c.host === host)?.eligible, zip, `${s.server} ${host}`);
      const measured = bench.rows.find((r) => r.id === s.server)?.verdict.kind;
      if (measured === 'serial') assert.deepEqual([s.advisedHost, s.rule], ['function', 'serial'], s.server);
      // Concurrent-safe Node.js or Go servers at 2 calls/s share a warm server.
      if (zip && measured === 'concurrent') assert.notEqual(s.advisedHost, 'function', s.server);
    }
  });
});

describe('mcp-fleet plan on a fleet of its own', () => {
  const config = (): string => path.join(tmp.dir, 'servers.yaml');
  before(async () => {
    await writeFile(
      config(),
      `servers:
  memory:
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    state: session
  everything:
    package: { npm: "@modelcontextprotocol/server-everything@2026.8.31" }
    command: mcp-server-everything
    host: web-function
`,
    );
  });

  test('state: session in servers.yaml → agentcore-runtime', async () => {
    const plan = await planJson(['--config', config()]);
    const memory = plan.servers.find((s) => s.server === 'memory');
    assert.equal(memory?.advisedHost, 'agentcore-runtime');
    assert.match(memory.reasons[0] ?? '', /state: session in the config/);
  });

  test("what mcp-fleet dev recorded in .mcp-fleet/measurements/ decides a server's concurrency", async () => {
    // Nothing measured: at 2 calls/s the advice waits for a measurement.
    const before = await planJson(['--config', config(), '--rate', '2']);
    assert.equal(before.servers.find((s) => s.server === 'everything')?.rule, 'unmeasured');
    const m: ServerMeasurements = {
      ...emptyMeasurements(
        'everything',
        { host: 'web-function', memorySizeMb: 2048, multiCall: true },
        'now',
      ),
      calls: 50,
      durationTotalMs: 500,
      init: { count: 2, totalMs: 1600, maxMs: 900 },
      maxMemoryUsedMb: 140,
      overlap: { calls: 40, errors: 0, peak: 6 },
    };
    await mkdir(path.join(tmp.dir, '.mcp-fleet', 'measurements'), { recursive: true });
    await writeFile(path.join(tmp.dir, '.mcp-fleet', 'measurements', 'everything.json'), JSON.stringify(m));
    const after = await planJson(['--config', config(), '--rate', '2']);
    const everything = after.servers.find((s) => s.server === 'everything');
    assert.equal(everything?.advisedHost, 'web-function');
    assert.equal(everything.facts.initMs?.value, 800);
    assert.ok(
      everything.reasons.some((r) =>
        /mcp-fleet dev: 40 calls shared a warm server \(up to 6 at once\)/.test(r),
      ),
    );
  });

  test('as text: the load, the table and the reasons', async () => {
    const r = await runCli(['plan', '--config', config(), '--calls-per-month', '1000000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1,000,000 calls a month per server/);
    assert.match(
      r.stdout,
      /\nserver +host now +advised +function +web-function +managed-instances +agentcore-runtime\n/,
    );
    assert.match(r.stdout, /\nmemory +function +agentcore-runtime \* +\$/);
    assert.match(r.stdout, /\nmemory → agentcore-runtime \(rule state\):\n {2}- keeps state between calls/);
  });

  test('usage errors exit 2', async () => {
    for (const args of [
      ['--rate', 'fast'],
      ['--rate', '1', '--calls-per-month', '10'],
      ['--state', 'memory=shared'],
      ['--state', 'nobody=session'],
      ['--concurrency-results', config()],
    ]) {
      const r = await runCli(['plan', '--config', config(), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
