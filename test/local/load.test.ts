import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { ROOT } from '../helpers.js';
import { assertNoneLeft, text } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';
import { testFleet, type TestFleetFiles } from './support.js';

const CALLS = 2000;
const CLIENTS = 32;
const SERVERS = ['everything', 'filesystem', 'memory', 'git'] as const;

let files: TestFleetFiles;
let fleet: RunningFleet;

before(async () => {
  files = await testFleet();
  fleet = await startFleet(files.config, { port: 0, env: files.env });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(files.mark.value);
  await files.cleanup();
});

interface Sent {
  n: number;
  server: (typeof SERVERS)[number];
  name: string;
  args: Record<string, unknown>;
  /** What the answer must contain to be this request's answer. */
  expect: RegExp;
}

function request(n: number): Sent {
  const server = SERVERS[n % SERVERS.length] ?? 'everything';
  switch (server) {
    case 'everything':
      return {
        n,
        server,
        name: 'everything___echo',
        args: { message: `call-${n}` },
        expect: new RegExp(`^Echo: call-${n}$`),
      };
    case 'filesystem': {
      const k = n % 10;
      return {
        n,
        server,
        name: 'filesystem___read_text_file',
        args: { path: path.join(files.dir, `file-${k}.txt`) },
        expect: new RegExp(`^content of file ${k}\\n?$`),
      };
    }
    case 'memory':
      return {
        n,
        server,
        name: 'memory___search_nodes',
        args: { query: `q-${n}` },
        expect: /"entities": \[\]/,
      };
    case 'git':
      return { n, server, name: 'git___git_status', args: { repo_path: files.repo }, expect: /On branch/ };
  }
}

test(`${CALLS} tool calls from ${CLIENTS} clients over 4 servers through the gateway; a server killed midway`, async () => {
  const url = `${fleet.url}/mcp`;
  const latencies: number[] = [];
  const failures: { n: number; server: string; message: string }[] = [];
  const successesAfterKill = new Map<string, number>();
  let next = 0;
  let answered = 0;
  let killed = false;

  const call = async (sent: Sent): Promise<void> => {
    const t0 = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: `req-${sent.n}`,
        method: 'tools/call',
        params: { name: sent.name, arguments: sent.args },
      }),
    });
    const body = (await res.json()) as { id: string; result?: unknown; error?: { message: string } };
    latencies.push(performance.now() - t0);
    assert.equal(res.status, 200);
    assert.equal(body.id, `req-${sent.n}`, 'the answer carries its request id');
    if (body.error !== undefined) {
      failures.push({ n: sent.n, server: sent.server, message: body.error.message });
      return;
    }
    assert.match(
      text(body.result),
      sent.expect,
      `call ${sent.n} to ${sent.server} got another answer: ${text(body.result).slice(0, 100)}`,
    );
    answered += 1;
    if (killed) successesAfterKill.set(sent.server, (successesAfterKill.get(sent.server) ?? 0) + 1);
  };

  const client = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      if (n >= CALLS) return;
      await call(request(n));
    }
  };

  // A long call to `everything` (25 s: longer than the rest of the test) is surely in flight when
  // its environments are killed: it has taken an environment before the clients start, and the
  // kill comes once a tenth of the calls are answered, midway.
  const everything = fleet.lambda.resolve('mcp-server-everything');
  const longCall = fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'long',
      method: 'tools/call',
      params: { name: 'everything___trigger-long-running-operation', arguments: { duration: 25, steps: 5 } },
    }),
  }).then((r) => r.json() as Promise<{ error?: { message: string } }>);
  await eventually(() => everything.environments.busy === 1, {
    what: 'the long call running in an environment of everything',
    seen: () => JSON.stringify(everything.environments),
  });
  const killer = (async () => {
    await eventually(() => answered >= CALLS / 10, {
      what: `${CALLS / 10} calls answered`,
      seen: () => `${answered} answered`,
    });
    killed = true;
    assert.ok(everything.killEnvironments() > 0);
  })();

  const t0 = performance.now();
  await Promise.all([...Array.from({ length: CLIENTS }, client), killer]);
  const seconds = (performance.now() - t0) / 1000;
  const long = await longCall;
  process.stdout.write(`# load: ${CALLS} calls in ${seconds.toFixed(2)} s; ${failures.length} failed\n`);

  // The killed server's calls failed cleanly, with the reason; nothing else failed.
  assert.match(long.error?.message ?? '', /mcp-server-everything failed: .*Runtime exited/);
  assert.deepEqual(
    [...new Set(failures.map((f) => f.server))].filter((s) => s !== 'everything'),
    [],
  );
  for (const f of failures) assert.match(f.message, /mcp-server-everything failed: .*Runtime exited/);
  assert.ok(failures.length <= 16, `${failures.length} calls failed`);
  // ... and it recovered.
  assert.ok(
    (successesAfterKill.get('everything') ?? 0) > 50,
    `everything answered ${successesAfterKill.get('everything') ?? 0} calls after the kill`,
  );
  assert.equal(latencies.length, CALLS, 'no call was lost');

  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  const figures = {
    calls: CALLS,
    clients: CLIENTS,
    servers: SERVERS.length,
    seconds: Number(seconds.toFixed(2)),
    callsPerSecond: Math.round(CALLS / seconds),
    p50Ms: Number(q(0.5).toFixed(2)),
    p95Ms: Number(q(0.95).toFixed(2)),
    p99Ms: Number(q(0.99).toFixed(2)),
    failedWhileKilled: failures.length,
  };
  process.stdout.write(`# load: ${JSON.stringify(figures)}\n`);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'load.json'),
    `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`,
  );
});
