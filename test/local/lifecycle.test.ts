/**
 * The local Lambda service gives each environment the life cycle Lambda does: an init phase cut at
 * 10 s (and run again inside the first invocation when it is), freezing between invocations,
 * the function's memory as a hard limit, and the REPORT figures of every invocation.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import { after, before, describe, test } from 'node:test';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { InvokeOutcome, LocalFunction } from '../../src/local/lambda/function.js';
import type { Guardian } from '../../src/local/lambda/environment.js';
import { memoryGuardKind } from '../../src/local/lambda/memory.js';
import { processState } from '../../src/platform/processes.js';
import { LocalLambda, type LocalLambdaOptions } from '../../src/local/lambda/service.js';
import { nestedDeeperThan } from '../../src/local/lambda/event-environment.js';
import { fixture, tempDir } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, isAlive, markedProcesses, marker } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';

const LIFECYCLE_HANDLER = fixture('handlers', 'lifecycle.mjs');
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
const services: LocalLambda[] = [];

before(async () => {
  ({ dir, cleanup } = await tempDir());
});

after(async () => {
  await Promise.all(services.map((s) => s.shutdown()));
  await assertNoneLeft(mark.value);
  await cleanup();
});

let configs = 0;
/** A local Lambda service over the servers of a servers.yaml fragment (indented under `servers:`). */
async function service(
  servers: string,
  options: Partial<LocalLambdaOptions> = {},
): Promise<{ lambda: LocalLambda; fn: (id: string) => LocalFunction; log: (id: string) => Promise<string> }> {
  const n = ++configs;
  const file = path.join(dir, `servers-${n}.yaml`);
  await writeFile(file, `servers:\n${servers}`);
  const config = await loadConfigOrThrow(file);
  const workDir = path.join(dir, `work-${n}`);
  const lambda = new LocalLambda(config.servers, {
    workDir,
    cwd: dir,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    ...options,
  });
  services.push(lambda);
  return {
    lambda,
    fn: (id) => lambda.resolve(`mcp-server-${id}`),
    log: async (id) => {
      // The log is written through a stream: what an invocation wrote is on disk once it drains.
      await lambda.resolve(`mcp-server-${id}`).logFlushed();
      return readFile(path.join(workDir, id, 'function.log'), 'utf8');
    },
  };
}

/** A fault-server function, with extra settings (timeout, memory, …). */
const fault = (id: string, settings: Record<string, number> = {}): string =>
  `  ${id}:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
${Object.entries(settings)
  .map(([k, v]) => `    ${k}: ${v}\n`)
  .join('')}    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`;

/** An AgentCore-style call of one of the fault server's tools. */
function call(
  lambda: LocalLambda,
  id: string,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<InvokeOutcome> {
  return lambda.invoke(`mcp-server-${id}`, args, {
    clientContext: { custom: { bedrockAgentCoreToolName: `${id}___${tool}` } },
  });
}

const textOf = (o: InvokeOutcome): string =>
  ((o.payload as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('');

/** The log line of one kind for one request. */
function line(log: string, prefix: string, requestId: string): string | undefined {
  return log.split('\n').find((l) => l.startsWith(prefix) && l.includes(requestId));
}

/** Waits until the function's environments are as `check` wants them (shown if they never are). */
async function until(fn: LocalFunction, what: string, check: (e: LocalFunction['environments']) => boolean) {
  await eventually(() => check(fn.environments), { what, seen: () => JSON.stringify(fn.environments) });
}

/** Every process of a function's environments (worker, server, what the server started). */
async function environmentPids(fn: LocalFunction): Promise<number[]> {
  const all: number[] = [];
  for (const env of fn.environmentList) all.push(...(await env.members()));
  return all;
}

describe('init', () => {
  test('a server that needs 11 s to initialize serves its first call, started once', async () => {
    const once = path.join(dir, 'eleven-once');
    const { lambda, log } = await service(
      `  eleven:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    timeout: 30
    env: { FAULT: slow-init, INIT_MS: "11000", FAULT_ONCE_FILE: ${JSON.stringify(once)}, MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
    );
    const out = await call(lambda, 'eleven', 'pid');
    // The call was answered by the server, so it waited for its 11 s start; the process that
    // answered is the one started during init (its pid is in the once-file): one start, not two.
    // (The timings — init ended at the runtime's budget, the call answered once the start was
    // done — are checked on a manual clock in test/unit/lambda-function.test.ts.)
    assert.equal(out.functionError, undefined, JSON.stringify(out.payload));
    assert.equal(textOf(out), (await readFile(once, 'utf8')).trim(), 'one start, not two');
    assert.equal(out.coldStart, true);
    const text = await log('eleven');
    assert.doesNotMatch(text, /INIT_REPORT/, 'init ended within its limit (at the runtime’s budget)');
    const report = line(text, 'REPORT', out.requestId);
    const init = Number(/Init Duration: ([\d.]+) ms/.exec(report ?? '')?.[1]);
    assert.ok(init > 0, `the cold start reports its Init Duration: ${report ?? text}`);
    assert.ok(
      Math.abs((out.report.initDurationMs ?? 0) - init) < 0.01,
      'the outcome carries the same figure',
    );
  });

  test('an init that times out is run again inside the first invocation, with its Init Duration reported', async () => {
    const inits = path.join(dir, 'inits.log');
    const { lambda, log } = await service(
      `  slowinit:
    command: unused
    timeout: 10
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
      {
        handlers: { slowinit: LIFECYCLE_HANDLER },
        initTimeoutMs: 1000,
        env: {
          ...process.env,
          ...mark.env,
          LIFECYCLE_INIT_MS: '2500',
          LIFECYCLE_INIT_LOG: inits,
        },
      },
    );
    const out = await lambda.invoke('mcp-server-slowinit', {});
    assert.equal(out.functionError, undefined, JSON.stringify(out.payload));
    const text = await log('slowinit');
    // The figures to the millisecond (cut at the limit, the init's 2.5 s inside the Duration) are
    // checked on a manual clock in test/unit/lambda-function.test.ts; here, how they relate.
    assert.match(text, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: timeout$/m);
    const report = line(text, 'REPORT', out.requestId) ?? '';
    const init = Number(/Init Duration: ([\d.]+) ms/.exec(report)?.[1]);
    const duration = Number(/\tDuration: ([\d.]+) ms/.exec(report)?.[1]);
    assert.ok(init > 0, `the init inside the invocation is reported: ${report}`);
    assert.ok(duration >= init, `the invocation's Duration includes that init: ${report}`);
    assert.equal(
      out.report.initDurationMs?.toFixed(2),
      init.toFixed(2),
      'the outcome carries the same figure',
    );
    assert.equal(out.report.billedDurationMs, Math.ceil(out.report.durationMs), 'billed once');
    const pids = (await readFile(inits, 'utf8')).trim().split('\n');
    assert.equal(pids.length, 2, 'init ran twice: cut at the limit, then inside the invocation');
    assert.notEqual(pids[0], pids[1], 'in a reset environment');
    assert.equal((out.payload as { pid: number }).pid, Number(pids[1]));
    assert.equal(lambda.resolve('mcp-server-slowinit').stats.initTimeouts, 1);
  });

  test('an init inside the invocation that outlives the function timeout ends it: Task timed out', async () => {
    const { lambda, log } = await service(
      `  slowerinit:
    command: unused
    timeout: 2
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
      {
        handlers: { slowerinit: LIFECYCLE_HANDLER },
        initTimeoutMs: 1000,
        env: { ...process.env, ...mark.env, LIFECYCLE_INIT_MS: '5000' },
      },
    );
    const out = await lambda.invoke('mcp-server-slowerinit', {});
    assert.equal(out.functionError, 'Unhandled');
    const payload = out.payload as { errorType: string; errorMessage: string };
    assert.equal(payload.errorType, 'Sandbox.Timedout');
    assert.match(payload.errorMessage, /Task timed out after 2\.00 seconds$/);
    const text = await log('slowerinit');
    assert.match(text, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: timeout$/m);
    assert.match(text, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: timeout$/m);
    assert.match(line(text, 'REPORT', out.requestId) ?? '', /\tStatus: timeout$/);
    assert.equal(lambda.resolve('mcp-server-slowerinit').environments.total, 0);
  });
});

describe('timeouts', () => {
  test('a handler that overruns the function timeout: "Task timed out", every process of the environment gone', async () => {
    const { lambda, fn } = await service(
      `  overrun:
    command: unused
    timeout: 2
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
      { handlers: { overrun: LIFECYCLE_HANDLER } },
    );
    await lambda.invoke('mcp-server-overrun', {});
    const pids = await environmentPids(fn('overrun'));
    assert.ok(pids.length > 0);
    const out = await lambda.invoke('mcp-server-overrun', { hang: true });
    const payload = out.payload as { errorType: string; errorMessage: string };
    assert.equal(payload.errorType, 'Sandbox.Timedout');
    for (const pid of pids) assert.equal(await isAlive(pid), false, `process ${pid} is gone`);
    assert.equal(fn('overrun').environments.total, 0);
    const next = await lambda.invoke('mcp-server-overrun', {});
    assert.equal(next.functionError, undefined, 'the next call gets a new environment');
    assert.equal(next.coldStart, true);
  });

  test("a hung call: when its answer arrives, the server's whole process group is already gone", async () => {
    const { lambda } = await service(fault('hung', { timeout: 3 }));
    const pid = Number(textOf(await call(lambda, 'hung', 'pid')));
    const grandchild = Number(textOf(await call(lambda, 'hung', 'spawn')));
    assert.equal(await isAlive(grandchild), true);
    const out = await call(lambda, 'hung', 'hang');
    const [serverAlive, grandchildAlive] = [await isAlive(pid), await isAlive(grandchild)];
    assert.match(
      textOf(out),
      /did not answer within \d+ ms; the server process was stopped and will be replaced/,
    );
    assert.equal(serverAlive, false, 'the hung server is gone when the answer arrives');
    assert.equal(grandchildAlive, false, 'and what it started');
  });
});

describe('freeze', () => {
  test('between invocations every process of the environment is stopped (state T); the next call thaws and is served', async () => {
    const { lambda, fn } = await service(fault('frozen'));
    const first = await call(lambda, 'frozen', 'echo', { text: 'one' });
    assert.equal(textOf(first), 'one');
    const f = fn('frozen');
    await until(f, 'the environment is frozen', (e) => e.frozen === 1);
    const pids = await environmentPids(f);
    assert.ok(pids.length >= 2, `worker and server at least (${pids.join(', ')})`);
    for (const pid of pids) assert.equal(processState(pid), 'T', `process ${pid} is stopped`);
    const second = await call(lambda, 'frozen', 'echo', { text: 'two' });
    assert.equal(textOf(second), 'two');
    assert.equal(second.coldStart, false, 'the same environment, thawed');
    await until(f, 'frozen again', (e) => e.frozen === 1);
    for (const pid of await environmentPids(f)) assert.equal(processState(pid), 'T');
  });

  test('the guardian hears of the environment, and of every process before it is stopped (dev killed mid-freeze leaves none unknown)', async () => {
    const told = new Map<number, string | undefined>();
    const running = new Set<number>();
    const guardian: Guardian = {
      started: (pid) => running.add(pid),
      ended: (pid) => running.delete(pid),
      frozen: (pids) => {
        for (const pid of pids) told.set(pid, processState(pid));
      },
      thawed: (pids) => {
        for (const pid of pids) told.delete(pid);
      },
    };
    const { lambda, fn } = await service(fault('guarded'), { guardian });
    assert.equal(textOf(await call(lambda, 'guarded', 'echo', { text: 'x' })), 'x');
    const f = fn('guarded');
    await until(f, 'frozen', (e) => e.frozen === 1);
    const pids = await environmentPids(f);
    assert.ok(pids.length >= 2, `worker and server at least (${pids.join(', ')})`);
    for (const pid of pids) {
      assert.equal(processState(pid), 'T', `process ${pid} is stopped`);
      assert.ok(told.has(pid), `the guardian was told of ${pid}`);
      assert.notEqual(told.get(pid), 'T', `process ${pid} was not yet stopped when the guardian was told`);
    }
    assert.equal(textOf(await call(lambda, 'guarded', 'echo', { text: 'y' })), 'y');
    for (const pid of pids)
      assert.ok(!told.has(pid) || told.get(pid) !== 'T', `process ${pid} thawed or told again`);
    const root = f.environmentList[0]?.pid;
    assert.ok(root !== undefined && running.has(root), `the guardian knows the environment (${root})`);
    // Reclaimed once idle for longer than 0 ms (asked again until it is).
    await until(f, 'no environment left', (e) => {
      f.reclaimIdle(0);
      return e.total === 0;
    });
    await eventually(() => !running.has(root), { what: 'the guardian told the environment is over' });
  });

  test('frozen environments time out like the others, and keep serving', async () => {
    const { lambda, fn } = await service(fault('frozenhang', { timeout: 3 }));
    assert.equal(textOf(await call(lambda, 'frozenhang', 'echo', { text: 'x' })), 'x');
    await until(fn('frozenhang'), 'frozen', (e) => e.frozen === 1);
    const hung = await call(lambda, 'frozenhang', 'hang');
    assert.match(textOf(hung), /did not answer within/);
    assert.equal(textOf(await call(lambda, 'frozenhang', 'echo', { text: 'after' })), 'after');
  });

  test('idle frozen environments are reclaimed, every process with them', async () => {
    const { lambda, fn } = await service(fault('reclaimed'), { idleMs: 400 });
    await call(lambda, 'reclaimed', 'echo', { text: 'x' });
    await until(fn('reclaimed'), 'frozen', (e) => e.frozen === 1);
    const pids = await environmentPids(fn('reclaimed'));
    await until(fn('reclaimed'), 'reclaimed', (e) => e.total === 0);
    for (const pid of pids) assert.equal(await isAlive(pid), false, `process ${pid} is gone`);
  });

  test('--no-freeze leaves idle environments running', async () => {
    const { lambda, fn } = await service(fault('thawed'), { freeze: false });
    await call(lambda, 'thawed', 'echo', { text: 'x' });
    // Once a call has ended, the pool asks its environment to freeze; a freeze under way ends
    // before freeze() resolves. Asked again here, a --no-freeze environment does nothing.
    const envs = fn('thawed').environmentList;
    assert.equal(envs.length, 1);
    await Promise.all(envs.map((e) => e.freeze()));
    assert.equal(fn('thawed').environments.frozen, 0);
    for (const pid of await environmentPids(fn('thawed')))
      assert.notEqual(processState(pid), 'T', `process ${pid} runs`);
  });
});

describe('memory', () => {
  for (const mode of ['auto', 'proc'] as const) {
    test(`an environment over its memory is killed with Lambda's error and replaced (${mode})`, async (t) => {
      const id = `hungry-${mode}`;
      const { lambda, fn, log } = await service(fault(id, { memory: 128 }), {
        memory: mode,
      });
      const before = Number(textOf(await call(lambda, id, 'pid')));
      const out = await call(lambda, id, 'alloc', { ms: 320 });
      assert.equal(out.functionError, 'Unhandled', JSON.stringify(out.payload));
      const payload = out.payload as { errorType: string; errorMessage: string };
      assert.equal(payload.errorType, 'Runtime.OutOfMemory');
      assert.match(
        payload.errorMessage,
        /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed$/,
      );
      const report = line(await log(id), 'REPORT', out.requestId) ?? '';
      assert.match(report, /\tMemory Size: 128 MB\t/);
      assert.match(report, /\tStatus: error\tError Type: Runtime\.OutOfMemory$/);
      assert.equal(await isAlive(before), false, 'the environment and its server are gone');
      const after = await call(lambda, id, 'pid');
      assert.equal(after.coldStart, true, 'the next call gets a new environment');
      assert.notEqual(Number(textOf(after)), before);
      assert.equal(fn(id).stats.outOfMemory, 1);
      t.diagnostic(`memory guard: ${mode === 'auto' ? await memoryGuardKind() : 'proc'}`);
    });
  }
});

describe('reports', () => {
  test('every invocation logs START, END and REPORT with Lambda’s figures; Init Duration on the cold start only', async () => {
    const { lambda, fn, log } = await service(fault('reported', { memory: 256 }));
    const cold = await call(lambda, 'reported', 'echo', { text: 'a' });
    const warm = await call(lambda, 'reported', 'echo', { text: 'b' });
    const text = await log('reported');
    for (const o of [cold, warm]) {
      assert.ok(line(text, 'START RequestId:', o.requestId)?.endsWith('Version: $LATEST'));
      assert.ok(line(text, 'END RequestId:', o.requestId));
    }
    const re =
      /^REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: (\d+) MB(\tInit Duration: [\d.]+ ms)?$/;
    const coldLine = re.exec(line(text, 'REPORT', cold.requestId) ?? '');
    const warmLine = re.exec(line(text, 'REPORT', warm.requestId) ?? '');
    assert.ok(coldLine && warmLine, text);
    assert.ok(coldLine[2], 'the cold start reports its Init Duration');
    assert.equal(warmLine[2], undefined, 'a warm invocation does not');
    assert.ok(Number(warmLine[1]) > 0 && Number(warmLine[1]) <= 256);
    assert.equal(
      cold.report.billedDurationMs,
      Math.ceil(cold.report.durationMs + (cold.report.initDurationMs ?? 0)),
    );
    assert.equal(
      fn('reported').stats.maxMemoryUsedMb,
      Math.max(cold.report.maxMemoryUsedMb, warm.report.maxMemoryUsedMb),
    );
  });
});

/** Whether Node.js's structured serializer (the IPC channel's) takes the value. */
function serializes(value: unknown): boolean {
  try {
    v8.serialize(value);
    return true;
  } catch {
    return false;
  }
}

describe('events', () => {
  test('an event nested deeper than the IPC serializer takes goes as JSON text; one too deep for JSON too is answered with an error; the warm environment stays', async () => {
    const { lambda, fn } = await service(fault('deep'));
    const warm = await call(lambda, 'deep', 'echo', { text: 'warm' });
    assert.equal(textOf(warm), 'warm');
    // Deep enough that the IPC channel's serializer overflows its stack (Node.js: about 4,000).
    let deep: unknown = [];
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const refused = await call(lambda, 'deep', 'echo', { text: 'deep', deep });
    assert.equal(refused.functionError, 'Unhandled');
    const payload = refused.payload as { errorType?: string; errorMessage?: string };
    assert.equal(payload.errorType, 'Runtime.InvalidEvent');
    assert.match(payload.errorMessage ?? '', /the event could not be passed to the function/);
    const after = await call(lambda, 'deep', 'echo', { text: 'after' });
    assert.equal(textOf(after), 'after', 'the next call is served');
    assert.equal(fn('deep').stats.coldStarts, 1, 'by the same environment: no new cold start');

    // Between the two: too deep for the channel's serializer, not for JSON: it goes as JSON text.
    const nest = (depth: number): unknown => {
      let v: unknown = [];
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    let depth = 1000;
    while (depth < 20_000 && serializes(nest(depth))) depth += 100;
    assert.ok(depth < 20_000, 'the serializer overflows somewhere below 20,000');
    assert.doesNotThrow(() => JSON.stringify(nest(depth)), `JSON carries ${depth} levels`);
    const carried = await call(lambda, 'deep', 'echo', { text: `deep ${depth}`, deep: nest(depth) });
    assert.equal(carried.functionError, undefined, JSON.stringify(carried.payload).slice(0, 500));
    assert.equal(textOf(carried), `deep ${depth}`);
    assert.equal(fn('deep').stats.coldStarts, 1, 'still the same environment');
  });
});

describe('what the channel cannot carry as it is', () => {
  const nest = (depth: number): unknown => {
    let v: unknown = [];
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };

  test('nesting is measured without recursion, objects and arrays alike', () => {
    assert.equal(nestedDeeperThan(nest(50_000), 49_999), true);
    assert.equal(nestedDeeperThan(nest(50_000), 50_000), false);
    assert.equal(nestedDeeperThan({ a: [{ b: { c: 1 } }] }, 2), true, 'three levels below the top');
    assert.equal(nestedDeeperThan({ a: [{ b: { c: 1 } }] }, 3), false);
    assert.equal(nestedDeeperThan('text', 0), false);
    assert.equal(nestedDeeperThan(Buffer.alloc(1 << 20), 0), false, 'bytes are not walked');
  });

  test('an answer nested deeper than a structured clone safely takes comes back whole, as JSON; the environment stays', async () => {
    const { lambda, fn } = await service(fault('deepanswer'));
    // Near the serializer's limit: the worker's clone would pass and the service's overflow.
    for (const depth of [10, 3_300]) {
      const out = await call(lambda, 'deepanswer', 'nested', { depth });
      assert.equal(out.functionError, undefined);
      const { deep } = (out.payload as { structuredContent: { deep: unknown } }).structuredContent;
      assert.equal(nestedDeeperThan(deep, depth - 1), true, `${depth} levels`);
      assert.equal(nestedDeeperThan(deep, depth), false, `${depth} levels, no more`);
    }
    assert.equal(textOf(await call(lambda, 'deepanswer', 'echo', { text: 'after' })), 'after');
    assert.equal(fn('deepanswer').stats.coldStarts, 1, 'the same environment throughout');
  });
});

describe('the channel to a managed instance', () => {
  test('invocations handed over together go to the worker as one message, and answers that end together come back as one', async () => {
    const { lambda, fn } = await service(
      `  batch:\n    command: unused\n    host: managed-instances\n    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }\n`,
      { handlers: { batch: LIFECYCLE_HANDLER } },
    );
    const first = await lambda.invoke('mcp-server-batch', {});
    assert.equal(first.functionError, undefined, JSON.stringify(first.payload));
    const { pid } = first.payload as { pid: number };
    // Eight at once, each waiting as long: they end in the same turn of the worker's event loop.
    const together = await Promise.all(
      Array.from({ length: 8 }, () => lambda.invoke('mcp-server-batch', { sleepMs: 50 })),
    );
    for (const out of together)
      assert.deepEqual(out.payload, { ok: true, pid }, 'each answered, by the one environment');
    const channel = (await lambda.invoke('mcp-server-batch', { channel: true })).payload as {
      received: number[];
      sent: number[];
    };
    assert.equal(
      channel.received.reduce((a, b) => a + b, 0),
      10,
      `every invocation reached the worker once: ${JSON.stringify(channel)}`,
    );
    assert.ok(
      Math.max(...channel.received) >= 2,
      `a message carried several invocations: ${JSON.stringify(channel)}`,
    );
    assert.ok(
      Math.max(...channel.sent) >= 2,
      `a message carried several answers: ${JSON.stringify(channel)}`,
    );
    assert.equal(fn('batch').stats.coldStarts, 1);
  });

  test('one event the channel cannot carry, handed over with others, is refused alone', async () => {
    const yaml = fault('deepmany').replace('    env:', '    host: managed-instances\n    env:');
    const { lambda, fn } = await service(yaml);
    assert.equal(textOf(await call(lambda, 'deepmany', 'echo', { text: 'warm' })), 'warm');
    let deep: unknown = [];
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const [before, refused, after] = await Promise.all([
      call(lambda, 'deepmany', 'echo', { text: 'before' }),
      call(lambda, 'deepmany', 'echo', { text: 'deep', deep }),
      call(lambda, 'deepmany', 'echo', { text: 'after' }),
    ]);
    assert.equal(textOf(before), 'before');
    assert.equal(textOf(after), 'after');
    assert.equal((refused?.payload as { errorType?: string }).errorType, 'Runtime.InvalidEvent');
    assert.equal(fn('deepmany').stats.coldStarts, 1, 'the same environment throughout');
  });
});

describe('no process left', () => {
  test('every marked process is gone once the services shut down', async () => {
    await Promise.all(services.splice(0).map((s) => s.shutdown()));
    await assertNoneLeft(mark.value);
    assert.deepEqual(await markedProcesses(mark.value), []);
  });
});
