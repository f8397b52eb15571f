/**
 * A `host: managed-instances` function (Lambda Managed Instances) under the real runtime pieces:
 * the Runtime Interface Emulator in its managed-instances mode and aws-lambda-ric on Node.js 22,
 * in the Lambda-like sandbox. AWS_LAMBDA_MAX_CONCURRENCY switches both into the mode: the
 * runtime client runs worker threads, each of which loads the handler once (init) and takes many
 * invocations at once — they share that worker's handler, its Telemetry and its server process.
 *
 * The function is laid out as build lays out an npm server's zip function: the bundled handler
 * as index.mjs, launch.json, the server's executable in bin/ and its packages in node_modules/
 * (here this repository's, mounted read-only: @modelcontextprotocol/server-everything).
 *
 * scripts/lambda-tools.ts installs the runtime pieces (.ci/run does it first; here it is a no-op
 * when they are there).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LaunchInput } from '../../src/runtime/handler.js';
import { ROOT } from '../helpers.js';
import { eventually } from '../support/eventually.js';
import { bundledFunctionUnderRie, type RieFunction } from './rie-support.js';
import { marker, text } from './support.js';

/** Invocations sent at once. */
const CALLS = 16;
/** The runtime client's worker threads. */
const WORKERS = 2;
/** How long each long-running call takes on the server, seconds. */
const LONG_CALL_S = 2;

const EVERYTHING = path.posix.join('@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

/** server-everything as a managed-instances function, staged as build stages an npm server. */
function everythingUnderRie(mark: ReturnType<typeof marker>): Promise<RieFunction> {
  const launch: LaunchInput = {
    id: 'everything',
    name: 'Everything',
    command: 'mcp-server-everything',
    args: ['stdio'],
    env: mark.env,
    timeout: 30,
    host: 'managed-instances',
    path: ['bin'],
  };
  return bundledFunctionUnderRie(mark, launch, {
    functionName: 'mcp-server-everything',
    timeoutSeconds: 30,
    managedInstances: { maxConcurrency: CALLS, workers: WORKERS },
    // The runtime's debug lines: each invocation's start.
    env: { POWERTOOLS_LOG_LEVEL: 'DEBUG' },
    mounts: [{ target: '/var/task/node_modules', source: path.join(ROOT, 'node_modules') }],
    stage: async (dir) => {
      await mkdir(path.join(dir, 'node_modules'));
      await mkdir(path.join(dir, 'bin'));
      const bin = path.join(dir, 'bin', 'mcp-server-everything');
      await writeFile(bin, `#!/bin/sh\nexec node "$(dirname "$0")/../node_modules/${EVERYTHING}" "$@"\n`);
      await chmod(bin, 0o755);
    },
  });
}

/** The function's structured log lines (Powertools' JSON), in the order written. */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * The function's log lines once every one of `ids` has a line of each of `messages`: a worker
 * thread's output reaches the log a moment after its answer has gone.
 */
function loggedFor(
  fn: RieFunction,
  ids: readonly string[],
  messages: readonly string[],
): Promise<Record<string, unknown>[]> {
  return eventually(
    () => {
      const lines = logLines(fn.output());
      const has = (id: string, message: string): boolean =>
        lines.some((l) => l['message'] === message && l['function_request_id'] === id);
      return ids.every((id) => messages.every((m) => has(id, m))) && lines;
    },
    { what: `the ${messages.join(' and ')} lines of ${String(ids.length)} calls`, seen: () => fn.output() },
  );
}

/** Request ids of one batch of calls. */
const requestIds = (what: string): string[] =>
  Array.from({ length: CALLS }, (_, i) => `${what}-${String(i)}-${randomUUID()}`);

describe('a managed-instances function under the emulator in managed-instances mode, aws-lambda-ric on Node.js 22', () => {
  const mark = marker();
  let fn: RieFunction;

  before(async () => {
    fn = await everythingUnderRie(mark);
  });

  after(async () => {
    // Every process of the environment (emulator, runtime, servers) gone: checked by stop.
    await fn.stop();
  });

  test(`${String(CALLS)} echo calls at once: each answered with its own arguments and logged with its own request id`, async () => {
    const ids = requestIds('echo');
    const answers = await Promise.all(
      ids.map((id) =>
        fn.invoke({ message: `from ${id}` }, { bedrockAgentCoreToolName: 'everything___echo' }, id),
      ),
    );
    answers.forEach((answer, i) => {
      assert.equal(text(answer), `Echo: from ${ids[i] ?? ''}`, JSON.stringify(answer));
    });
    const lines = await loggedFor(fn, ids, ['tool call']);
    const calls = lines.filter((l) => l['message'] === 'tool call');
    for (const id of ids) {
      const own = calls.filter((l) => l['function_request_id'] === id);
      assert.equal(own.length, 1, `one "tool call" line of ${id}: ${JSON.stringify(own)}`);
      assert.equal(own[0]?.['tool'], 'echo');
      assert.equal(own[0]?.['front'], 'agentcore');
      assert.equal(own[0]?.['serverId'], 'everything');
    }
  });

  test(`${String(CALLS)} long-running calls at once: all of them in flight together`, async () => {
    const ids = requestIds('long');
    const answers = await Promise.all(
      ids.map((id) =>
        fn.invoke(
          { duration: LONG_CALL_S, steps: 1 },
          { bedrockAgentCoreToolName: 'everything___trigger-long-running-operation' },
          id,
        ),
      ),
    );
    for (const answer of answers) {
      assert.equal(
        text(answer),
        `Long running operation completed. Duration: ${String(LONG_CALL_S)} seconds, Steps: 1.`,
      );
    }
    // What the function saw, in the order its log was written: every call had started before the
    // first of them ended.
    const lines = await loggedFor(fn, ids, ['invocation started', 'tool call']);
    const at = (message: string, id: string): number =>
      lines.findIndex((l) => l['message'] === message && l['function_request_id'] === id);
    const starts = ids.map((id) => at('invocation started', id));
    const ends = ids.map((id) => at('tool call', id));
    assert.ok(
      Math.max(...starts) < Math.min(...ends),
      `all ${String(CALLS)} calls in flight at once (log lines of starts ${JSON.stringify(starts)}, ends ${JSON.stringify(ends)})`,
    );
  });

  test('init once per worker thread: a server process and a cold start each, then every call served warm', () => {
    const lines = logLines(fn.output());
    const started = lines.filter((l) => l['message'] === 'server started');
    assert.equal(started.length, WORKERS, JSON.stringify(started));
    assert.equal(new Set(started.map((l) => l['pid'])).size, WORKERS, 'a server process per worker');
    const invocations = lines.filter((l) => l['message'] === 'invocation started');
    assert.equal(invocations.length, 2 * CALLS);
    // The emulator decides which worker takes each call: a worker that took none has no cold
    // start (under load one worker may take them all); each that did has exactly one.
    const cold = invocations.filter((l) => l['coldStart'] === true).length;
    assert.ok(cold >= 1 && cold <= WORKERS, `${String(cold)} cold starts for ${String(WORKERS)} workers`);
  });
});
