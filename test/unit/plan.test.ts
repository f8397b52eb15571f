// mcp-fleet plan: the facts read from a server's config and measurements, the cost arithmetic of
// each host (examples worked out by hand in the comments), the advice's rules in their order, the
// plan's shape, and the measurements the local Lambda service records for it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { HOSTS } from '../../src/config/limits.js';
import type { ServerConfig } from '../../src/config/model.js';
import type { ServerMeasurements } from '../../src/contract/measurements.js';
import type { InvocationRecord } from '../../src/local/lambda/function.js';
import {
  addInvocation,
  OverlapWindow,
  emptyMeasurements,
  MeasurementRecorder,
} from '../../src/local/lambda/measurements.js';
import {
  agentCoreRuntimeCost,
  coldStarts,
  DEFAULT_ASSUMPTIONS,
  functionCost,
  gatewayCost,
  managedInstancesCost,
  type Load,
} from '../../src/plan/cost.js';
import { declaredState, serverFacts, type ServerFacts } from '../../src/plan/facts.js';
import { planServer } from '../../src/plan/plan.js';
import { PRICES, SECONDS_PER_MONTH } from '../../src/plan/prices.js';
import { RULES, THRESHOLDS } from '../../src/plan/rules.js';
import { callsPerMonth, states } from '../../src/cli/commands/plan.js';

const near = (actual: number | null, expected: number, what: string): void => {
  assert.ok(actual !== null, `${what}: no figure`);
  assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, expected), `${what}: ${actual} ≠ ${expected}`);
};

function server(yaml: string): ServerConfig {
  const { config, problems } = parseConfig(yaml);
  assert.ok(config, JSON.stringify(problems));
  const s = config.servers[0];
  assert.ok(s);
  return s;
}

const NPM = `servers:\n  mem:\n    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }\n    command: mcp-server-memory\n`;
const PYPI = `servers:\n  git:\n    package: { pypi: mcp-server-git==2026.10.19 }\n    command: mcp-server-git\n`;

/** Facts of a server by hand: an npm server of 1024 MB on arm64, nothing measured. */
function facts(over: Partial<ServerFacts> = {}): ServerFacts {
  return {
    id: 's',
    kind: 'npm',
    host: 'function',
    memoryMb: 1024,
    architecture: 'arm64',
    environmentConcurrency: 32,
    idleTimeoutS: 900,
    state: undefined,
    concurrency: { value: 'unknown', source: 'not measured' },
    ...over,
  };
}

const load = (callsPerMonth: number): Load => ({ callsPerMonth, assumptions: DEFAULT_ASSUMPTIONS });
const perMonth = (perSecond: number): number => perSecond * SECONDS_PER_MONTH;

function measurements(over: Partial<ServerMeasurements> = {}): ServerMeasurements {
  return {
    ...emptyMeasurements(
      'mem',
      { host: 'web-function', memorySizeMb: 2048, multiCall: true },
      '2026-12-03T00:00:00Z',
    ),
    ...over,
  };
}

describe('plan: the cost of a month on each host', () => {
  test('the prices are dated figures with their source', () => {
    for (const [name, p] of Object.entries(PRICES)) {
      assert.ok(p.usd > 0, name);
      assert.match(p.source, /^https:\/\/aws\.amazon\.com\//, name);
    }
    assert.equal(SECONDS_PER_MONTH, 2_628_000); // 730 hours
  });

  test('function: requests plus GB-seconds of the configured memory (by hand)', () => {
    // 1,000,000 calls of 100 ms at 1024 MB on arm64, cold starts negligible at 0.38 calls/s
    // (1e6 × e^(−0.3805 × 300) ≈ 0):
    //   requests  1,000,000 × $0.20 / 1e6              = $0.20
    //   duration  1,000,000 × 0.1 s × 1 GB = 100,000 GB-s × $0.0000133334 = $1.33334
    //   total                                           = $1.53334
    const f = facts({ callMs: { value: 100, source: 'test' }, initMs: { value: 1000, source: 'test' } });
    near(functionCost(f, load(1_000_000)).monthlyUsd, 1.53334, 'arm64');
    // The same on x86_64: 100,000 GB-s × $0.0000166667 = $1.66667, + $0.20.
    near(functionCost({ ...f, architecture: 'x86_64' }, load(1_000_000)).monthlyUsd, 1.86667, 'x86_64');
  });

  test('function: a rare call finds no warm environment and pays its init', () => {
    // 1,000 calls a month: 3.805e-4 calls/s; a call finds none warm with e^(−3.8052e-4 × 300) = e^(−0.114155) = 0.892119.
    near(coldStarts(load(1000)), 1000 * Math.exp((-1000 / SECONDS_PER_MONTH) * 300), 'cold starts');
    assert.ok(Math.abs(coldStarts(load(1000)) - 892.12) < 0.01);
    // 1,000 × 0.1 s + 892.12 × 2 s = 1,884.24 GB-s at 1 GB → $0.0251233; requests $0.0002: $0.0253233.
    const f = facts({ callMs: { value: 100, source: 'test' }, initMs: { value: 2000, source: 'test' } });
    const cost = functionCost(f, load(1000)).monthlyUsd;
    assert.ok(cost !== null && Math.abs(cost - 0.0253233) < 1e-6, String(cost));
  });

  test('managed-instances: three m7g.large at least, the 15% fee, and requests (by hand)', () => {
    // 1,000,000 calls of 100 ms: 0.038 calls in flight → 3 environments (the minimum) of 1 vCPU
    // (2048 MB at 2 GB per vCPU) → max(3 instances, ⌈3/2⌉) = 3 instances:
    //   EC2  3 × $0.0816 × 730 h = $178.704;  fee 15% = $26.8056;  requests $0.20;  total $205.7096
    const f = facts({ memoryMb: 2048, callMs: { value: 100, source: 'test' } });
    near(managedInstancesCost(f, load(1_000_000)).monthlyUsd, 205.7096, 'managed-instances');
    // 100 calls/s of 1 s with 8 calls per environment: 100 in flight → 13 environments → 7 instances.
    const busy = managedInstancesCost(
      { ...f, environmentConcurrency: 8, callMs: { value: 1000, source: 'test' } },
      load(perMonth(100)),
    );
    assert.match(busy.lines[0]?.item ?? '', /^EC2 \(7 × m7g\.large/);
  });

  test('agentcore-runtime: active CPU and memory for each session’s life (by hand)', () => {
    // 1,000,000 calls in sessions of 10 → 100,000 sessions; each: init 1 s + 10 × 0.1 s = 2 s
    // active; life = 2 + 9 × 10 s between calls + 900 s idle timeout = 992 s; peak 256 MB.
    //   CPU     100,000 × 2 s × $0.0895 / 3600            = $4.972222
    //   memory  100,000 × 992 s × 0.25 GB × $0.00945 / 3600 = $65.1
    //   total                                              = $70.072222
    const f = facts({
      callMs: { value: 100, source: 'test' },
      initMs: { value: 1000, source: 'test' },
      maxMemoryUsedMb: { value: 256, source: 'test' },
    });
    near(agentCoreRuntimeCost(f, load(1_000_000)).monthlyUsd, 70.072222, 'agentcore-runtime');
  });

  test('the gateway: $0.005 per 1,000 calls, whatever the host', () => {
    near(gatewayCost(load(1_000_000)), 5, 'gateway');
  });
});

describe('plan: the facts of a server', () => {
  test('package kind, host and memory from the config; nothing measured', () => {
    const f = serverFacts(server(PYPI), {});
    assert.equal(f.kind, 'pypi');
    assert.equal(f.host, 'function');
    assert.equal(f.concurrency.value, 'unknown');
    assert.equal(f.initMs, undefined);
    assert.equal(f.state, undefined);
  });

  test('state: the config’s, read defensively; --state wins', () => {
    const s = server(NPM);
    assert.equal(declaredState({ ...s, state: 'session' }), 'session');
    assert.equal(declaredState({ ...s, state: 'sometimes' } as unknown as ServerConfig), undefined);
    const f = serverFacts({ ...s, state: 'none' }, { stateOverride: 'session' });
    assert.deepEqual(f.state, { value: 'session', source: '--state mem=session' });
  });

  test('state known of a package when the config declares none: the memory server keeps its graph', () => {
    const known = serverFacts(server(NPM), {});
    assert.equal(known.state?.value, 'session');
    assert.match(known.state?.source ?? '', /@modelcontextprotocol\/server-memory: its knowledge graph/);
    // By its command too (a memory server run from PATH), and a declaration wins over what is known.
    const byCommand = serverFacts(server('servers:\n  m:\n    command: /usr/bin/mcp-server-memory\n'), {});
    assert.equal(byCommand.state?.value, 'session');
    const declared = serverFacts(server(`${NPM}    state: none\n`), {});
    assert.deepEqual(declared.state, { value: 'none', source: 'state: none in the config' });
    assert.equal(serverFacts(server(PYPI), {}).state, undefined);
  });

  test('state seen by dev (a call read a file an earlier call wrote) counts when nothing is declared', () => {
    const seen = measurements({
      state: { environments: 2, files: 3, examples: ['index/faiss.bin'], lastAt: 't' },
    });
    const f = serverFacts(server(PYPI), { measurements: seen });
    assert.equal(f.state?.value, 'session');
    assert.match(
      f.state?.source ?? '',
      /mcp-fleet dev saw calls read files .*index\/faiss\.bin.*2 environments/,
    );
    // The config's declaration wins over what dev saw.
    const declared = serverFacts(server(`${PYPI}    state: none\n`), { measurements: seen });
    assert.equal(declared.state?.value, 'none');
    // Nothing seen: nothing known of a PyPI git server.
    assert.equal(serverFacts(server(PYPI), { measurements: measurements() }).state, undefined);
  });

  test('dev’s measurements: init, call duration and memory, each with its source', () => {
    const m = measurements({
      calls: 4,
      durationTotalMs: 400,
      init: { count: 2, totalMs: 3000, maxMs: 2000 },
      maxMemoryUsedMb: 180,
      tools: { mem___read_graph: { calls: 2, errors: 0, totalMs: 50, maxMs: 30 } },
    });
    const f = serverFacts(server(NPM), { measurements: m, buildColdStartMs: 999 });
    assert.equal(f.initMs?.value, 1500);
    assert.match(f.initMs?.source ?? '', /mcp-fleet dev, mean of 2 cold starts/);
    assert.equal(f.callMs?.value, 25);
    assert.equal(f.maxMemoryUsedMb?.value, 180);
    // Without dev's cold starts, the build's discovery.
    assert.equal(serverFacts(server(NPM), { buildColdStartMs: 999 }).initMs?.value, 999);
  });

  test('concurrency: evidence of failure wins over evidence of success', () => {
    const ok = measurements({ overlap: { calls: 40, errors: 0, peak: 8 } });
    const bad = measurements({ overlap: { calls: 40, errors: 3, peak: 8 } });
    const serial = { id: 'mem', verdict: { kind: 'serial', text: 'serial: set concurrency: 1' } };
    const fine = { id: 'mem', verdict: { kind: 'concurrent', text: 'takes concurrent calls' } };
    const s = server(NPM);
    assert.equal(serverFacts(s, { measurements: ok }).concurrency.value, 'concurrent');
    assert.equal(serverFacts(s, { measurements: bad, concurrencyResult: fine }).concurrency.value, 'serial');
    assert.equal(serverFacts(s, { measurements: ok, concurrencyResult: serial }).concurrency.value, 'serial');
    assert.equal(serverFacts(s, { concurrencyResult: fine }).concurrency.value, 'concurrent');
    const one = server(`${NPM}    host: web-function\n    concurrency: 1\n`);
    assert.equal(serverFacts(one, { measurements: ok }).concurrency.value, 'serial');
  });
});

describe('plan: the rules', () => {
  const advised = (f: ServerFacts, perSecond: number): { host: string; rule: string; reasons: string[] } => {
    const p = planServer(f, load(perMonth(perSecond)));
    return { host: p.advisedHost, rule: p.rule, reasons: p.reasons };
  };
  const safe = { value: 'concurrent' as const, source: 'test' };

  test('state: session → agentcore-runtime, before every other rule', () => {
    for (const kind of ['npm', 'pypi', 'image'] as const) {
      const a = advised(
        facts({
          kind,
          state: { value: 'session', source: 'state: session in the config' },
          concurrency: { value: 'serial', source: 'test' },
        }),
        5,
      );
      assert.equal(a.host, 'agentcore-runtime', kind);
      assert.equal(a.rule, 'state');
      assert.match(a.reasons[0] ?? '', /keeps state between calls \(state: session in the config\)/);
    }
  });

  test('a server seen asking its client → agentcore-runtime, after state and before every other rule', () => {
    const m = measurements({
      asks: {
        count: 3,
        methods: ['elicitation/create', 'sampling/createMessage'],
        lastAt: '2026-12-04T10:00:00.000Z',
      },
    });
    const f = serverFacts(server(PYPI), { measurements: m });
    assert.deepEqual(f.asks?.value, ['elicitation/create', 'sampling/createMessage']);
    assert.match(f.asks?.source ?? '', /mcp-fleet dev saw it ask 3 times/);
    const a = advised(
      { ...facts({ kind: 'pypi', concurrency: { value: 'serial', source: 'test' } }), asks: f.asks },
      0.01,
    );
    assert.deepEqual([a.host, a.rule], ['agentcore-runtime', 'asks']);
    assert.match(
      a.reasons[0] ?? '',
      /asks its client in the middle of a call \(elicitation\/create, sampling\/createMessage; /,
    );
    assert.equal(serverFacts(server(PYPI), { measurements: measurements() }).asks, undefined);
  });

  test('serial → function, even when busy and Node.js', () => {
    const a = advised(
      facts({ concurrency: { value: 'serial', source: 'concurrency: 1 in the config' } }),
      50,
    );
    assert.deepEqual([a.host, a.rule], ['function', 'serial']);
    assert.match(a.reasons[0] ?? '', /one call at a time \(concurrency: 1 in the config\)/);
  });

  test('a stateless pypi or image server → function, at any rate', () => {
    for (const kind of ['pypi', 'image', 'command'] as const) {
      const a = advised(facts({ kind, concurrency: safe, initMs: { value: 5000, source: 'test' } }), 100);
      assert.deepEqual([a.host, a.rule], ['function', 'container'], kind);
    }
  });

  test('npm or Go, busy, concurrency not measured → function until measured', () => {
    const a = advised(facts({ kind: 'go' }), THRESHOLDS.highRatePerS * 2);
    assert.deepEqual([a.host, a.rule], ['function', 'unmeasured']);
    assert.ok(a.reasons.some((r) => /was not measured/.test(r)));
  });

  test('npm or Go, concurrent-safe, busy → web-function; slow to start → web-function too', () => {
    const busy = advised(facts({ concurrency: safe, callMs: { value: 50, source: 'test' } }), 2);
    assert.deepEqual([busy.host, busy.rule], ['web-function', 'busy']);
    assert.match(busy.reasons[0] ?? '', /^2\.0 calls\/s on average/);
    const slow = advised(facts({ concurrency: safe, initMs: { value: 2500, source: 'test' } }), 0.01);
    assert.deepEqual([slow.host, slow.rule], ['web-function', 'busy']);
    assert.match(slow.reasons[0] ?? '', /a cold start takes 2500 ms/);
  });

  test('npm or Go, concurrent-safe, busy, where managed instances cost less than function → managed-instances', () => {
    // 10 calls/s of 1 s at 2048 MB: function ≈ 26.28M × 2 GB-s × $0.0000133334 ≈ $700 a month;
    // managed instances: 10 in flight → 3 environments → 3 instances ≈ $211.
    const f = facts({ memoryMb: 2048, concurrency: safe, callMs: { value: 1000, source: 'test' } });
    const p = planServer(f, load(perMonth(10)));
    const cost = (h: string): number => p.costs.find((c) => c.host === h)?.monthlyUsd ?? NaN;
    assert.ok(cost('managed-instances') < cost('function'));
    assert.deepEqual([p.advisedHost, p.rule], ['managed-instances', 'steady']);
  });

  test('quiet and quick → function', () => {
    const a = advised(facts({ concurrency: safe, initMs: { value: 300, source: 'test' } }), 0.05);
    assert.deepEqual([a.host, a.rule], ['function', 'quiet']);
  });

  test('the reasons say when the state is undeclared and when the host should change', () => {
    const a = advised(facts({ host: 'web-function', concurrency: safe }), 0.05);
    assert.ok(a.reasons.some((r) => /state between calls not declared/.test(r)));
    assert.ok(a.reasons.some((r) => r === 'the config sets host web-function; set host: function'));
  });

  test('every rule is named once, and the last applies to anything', () => {
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
    assert.equal(RULES.at(-1)?.id, 'quiet');
  });
});

describe('plan: the shape of a server’s plan', () => {
  test('every host in order, each eligible or not with why, a figure or null', () => {
    const p = planServer(serverFacts(server(PYPI), {}), load(1_000_000));
    assert.deepEqual(
      p.costs.map((c) => c.host),
      [...HOSTS],
    );
    const by = Object.fromEntries(p.costs.map((c) => [c.host, c]));
    assert.equal(by['web-function']?.eligible, false);
    assert.match(by['web-function']?.whyNot ?? '', /needs its container image/);
    assert.equal(by['managed-instances']?.monthlyUsd, null);
    assert.equal(by.function?.eligible, true);
    assert.equal(typeof by.function?.monthlyUsd, 'number');
    assert.equal(by['agentcore-runtime']?.eligible, true);
    const npm = planServer(serverFacts(server(NPM), {}), load(1_000_000));
    const web = npm.costs.find((c) => c.host === 'web-function');
    assert.equal(web?.eligible, true);
    assert.equal(web?.monthlyUsd, null);
    assert.match(web?.note ?? '', /no published rate/);
    assert.equal((JSON.parse(JSON.stringify(npm)) as { server: string }).server, 'mem');
  });

  test('--calls-per-month and --rate', () => {
    assert.equal(callsPerMonth({}), 100_000);
    assert.equal(callsPerMonth({ callsPerMonth: '2,000,000' }), 2_000_000);
    assert.equal(callsPerMonth({ rate: '2/s' }), 2 * SECONDS_PER_MONTH);
    assert.equal(callsPerMonth({ rate: '0.5' }), 0.5 * SECONDS_PER_MONTH);
    assert.throws(() => callsPerMonth({ rate: 'fast' }), /expected calls a second/);
    assert.throws(() => callsPerMonth({ rate: '1', callsPerMonth: '5' }), /not both/);
    assert.deepEqual(states(['mem=session']), { mem: 'session' });
    assert.throws(() => states(['mem=shared']), /expected <server>=none\|session/);
  });
});

describe('plan: what the local Lambda service records', () => {
  const record = (
    over: Partial<InvocationRecord> & { ms: number; init?: number; mb?: number },
  ): InvocationRecord => ({
    requestId: 'r',
    payload: { content: [] },
    coldStart: over.init !== undefined,
    durationMs: over.ms,
    functionName: 'mcp-server-mem',
    serverId: 'mem',
    report: {
      requestId: 'r',
      durationMs: over.ms,
      billedDurationMs: Math.ceil(over.ms),
      memorySizeMb: 2048,
      maxMemoryUsedMb: over.mb ?? 100,
      ...(over.init !== undefined ? { initDurationMs: over.init } : {}),
    },
    ...over,
  });
  const multi = { host: 'web-function', memorySizeMb: 2048, multiCall: true };

  test('REPORT figures add up per server and per tool', () => {
    const m = measurements();
    addInvocation(m, record({ ms: 10, init: 900, mb: 120, toolName: 'mem___read_graph' }), multi, 't1');
    addInvocation(
      m,
      record({ ms: 30, mb: 90, toolName: 'mem___read_graph', payload: { isError: true } }),
      multi,
      't2',
    );
    addInvocation(m, record({ ms: 5 }), multi, 't3');
    assert.equal(m.calls, 3);
    assert.equal(m.errors, 1);
    assert.equal(m.durationTotalMs, 45);
    assert.equal(m.durationMaxMs, 30);
    assert.deepEqual(m.init, { count: 1, totalMs: 900, maxMs: 900 });
    assert.equal(m.maxMemoryUsedMb, 120);
    assert.deepEqual(m.tools['mem___read_graph'], { calls: 2, errors: 1, totalMs: 40, maxMs: 30 });
    assert.equal(m.updatedAt, 't3');
  });

  test('overlapping calls are counted once each, with their errors and the peak', () => {
    const m = measurements();
    // a [0,100], b [50,150] (failed), c [120,130], d [200,210] alone.
    const window = new OverlapWindow();
    window.add(m, { start: 0, end: 100, error: false });
    window.add(m, { start: 120, end: 130, error: false });
    window.add(m, { start: 50, end: 150, error: true });
    window.add(m, { start: 200, end: 210, error: false });
    assert.deepEqual(m.overlap, { calls: 3, errors: 1, peak: 3 });
  });

  test('the overlap window forgets calls older than any call lasts, so a long run stays small', () => {
    const m = measurements();
    const window = new OverlapWindow();
    // 20 minutes of one call every 10 ms, two at a time: each overlaps the one before.
    for (let t = 0; t < 20 * 60_000; t += 10) window.add(m, { start: t, end: t + 15, error: false });
    assert.equal(m.overlap.calls, 120_000);
    assert.equal(m.overlap.peak, 2);
    // Only the last 15 minutes (the longest a call may run) are kept.
    assert.ok(window.size <= 90_001, `${window.size} spans kept`);
  });

  describe('the recorder writes <dir>/<id>.json and adds to what was there', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-plan-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('two runs of dev', async () => {
      let t = 1_000_000;
      const known = (id: string): typeof multi | undefined => (id === 'mem' ? multi : undefined);
      const first = new MeasurementRecorder(dir, known, 60_000, () => t);
      first.record(record({ ms: 40, init: 700 }));
      t += 10;
      first.record(record({ ms: 40 })); // [t-30, t] overlaps the first [t-50, t-10]
      first.record({ ...record({ ms: 1 }), serverId: 'unknown' });
      await first.flush();
      const second = new MeasurementRecorder(dir, known, 60_000, () => t);
      second.record(record({ ms: 20, toolName: 'mem___search_nodes' }));
      await second.flush();
      const m = JSON.parse(await readFile(path.join(dir, 'mem.json'), 'utf8')) as ServerMeasurements;
      assert.equal(m.calls, 3);
      assert.equal(m.init.count, 1);
      assert.deepEqual(m.overlap, { calls: 2, errors: 0, peak: 2 });
      assert.equal(m.tools['mem___search_nodes']?.calls, 1);
      // A server's requests to its client, each method once in the list, every one counted.
      const third = new MeasurementRecorder(dir, known, 60_000, () => t);
      third.recordAsk('mem', 'elicitation/create');
      third.recordAsk('mem', 'elicitation/create');
      third.recordAsk('mem', 'roots/list');
      third.recordAsk('unknown', 'roots/list');
      await third.flush();
      const asked = JSON.parse(await readFile(path.join(dir, 'mem.json'), 'utf8')) as ServerMeasurements;
      assert.equal(asked.asks?.count, 3);
      assert.deepEqual(asked.asks?.methods, ['elicitation/create', 'roots/list']);
      assert.equal(asked.calls, 3);
      await assert.rejects(readFile(path.join(dir, 'unknown.json'), 'utf8'));
    });
  });
});
