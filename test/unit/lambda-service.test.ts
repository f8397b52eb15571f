// The local Lambda service in process: functions found by name, qualifier or ARN, and a hot
// reload's changes (config/changes.ts) applied while calls run, over scripted environments.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { serverChanges } from '../../src/config/changes.js';
import { parseConfig } from '../../src/config/load.js';
import type { ServerConfig } from '../../src/config/model.js';
import { FunctionNotFoundError, LocalLambda } from '../../src/local/lambda/service.js';
import type { InvokeReply } from '../../src/local/lambda/worker-protocol.js';
import { ManualClock, settle } from '../support/clock.js';
import { result, scriptedEnvironments } from '../support/scripted-environment.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-unit-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

function servers(yaml: string): ServerConfig[] {
  const { config, problems } = parseConfig(yaml);
  assert.ok(config, JSON.stringify(problems));
  return config.servers;
}

const FLEET = `servers:
  alpha: { command: a }
  beta: { command: b }
  gamma: { command: g, enabled: false }
`;

describe('which servers a reload changes', () => {
  test('added, changed, removed and unchanged, enabled servers only, in the new order', () => {
    const before = servers(FLEET);
    const next = servers(`servers:
  delta: { command: d }
  alpha: { command: a, timeout: 99 }
  gamma: { command: g, enabled: false }
`);
    assert.deepEqual(serverChanges(before, next), {
      added: ['delta'],
      changed: ['alpha'],
      removed: ['beta'],
      unchanged: [],
    });
  });

  test('the place a server is written at does not change it; alsoChanged does', () => {
    const before = servers(FLEET);
    const moved = servers(`# a comment moves every line\n${FLEET}`);
    assert.deepEqual(serverChanges(before, moved).unchanged, ['alpha', 'beta']);
    assert.deepEqual(serverChanges(before, moved, (s) => s.id === 'beta').changed, ['beta']);
  });

  test('a server enabled again is added; one disabled is removed', () => {
    const before = servers(FLEET);
    const next = servers(
      FLEET.replace('enabled: false', 'enabled: true').replace(
        'beta: { command: b }',
        'beta: { command: b, enabled: false }',
      ),
    );
    const c = serverChanges(before, next);
    assert.deepEqual([c.added, c.removed], [['gamma'], ['beta']]);
  });
});

describe('LocalLambda', () => {
  const make = (yaml = FLEET) => {
    const envs = scriptedEnvironments();
    const lambda = new LocalLambda(servers(yaml), {
      workDir: work,
      cwd: work,
      environments: envs.factory,
      clock: new ManualClock(),
    });
    return { lambda, envs };
  };

  test('a function is found by name, name:qualifier and ARN; an unknown one is ResourceNotFound', async () => {
    const { lambda } = make();
    assert.equal(lambda.resolve('mcp-server-alpha').server.id, 'alpha');
    assert.equal(lambda.resolve('mcp-server-alpha:$LATEST').server.id, 'alpha');
    assert.equal(
      lambda.resolve('arn:aws:lambda:us-east-1:000000000000:function:mcp-server-beta').server.id,
      'beta',
    );
    assert.throws(
      () => lambda.resolve('mcp-server-gamma'),
      FunctionNotFoundError,
      'a disabled server has no function',
    );
    assert.equal(lambda.forTarget('alpha')?.name, 'mcp-server-alpha');
    await lambda.shutdown();
  });

  test('an asynchronous event throttled is tried again (1 s, 2 s, … apart) until it runs; one throttled past 6 hours is dropped and told', async () => {
    const held: (() => void)[] = [];
    const envs = scriptedEnvironments(() => ({
      answer: (msg) =>
        msg.event === 'first'
          ? new Promise<InvokeReply>((resolve) =>
              held.push(() => {
                resolve(result(msg, 'first'));
              }),
            )
          : result(msg, msg.event),
    }));
    const clock = new ManualClock();
    const dropped: string[] = [];
    const lambda = new LocalLambda(
      servers(
        'servers:\n  alpha: { command: a, aws: { reservedConcurrency: 1 } }\n  beta: { command: b, aws: { reservedConcurrency: 0 } }\n',
      ),
      {
        workDir: work,
        cwd: work,
        environments: envs.factory,
        clock,
        queueLimit: 0,
        onEventDropped: (fn, why) => dropped.push(`${fn}: ${why}`),
      },
    );
    const first = lambda.invoke('mcp-server-alpha', 'first');
    await settle();
    let ran: unknown = 'not yet';
    const queued = lambda.invokeAsync('mcp-server-alpha', 'second').then((o) => (ran = o?.payload));
    await settle();
    assert.equal(ran, 'not yet', 'throttled: waiting to be tried again');
    await clock.advance(1000);
    await settle();
    assert.equal(ran, 'not yet', 'throttled again at 1 s (the first call still runs)');
    held.shift()?.();
    await first;
    await clock.advance(2000);
    await queued;
    assert.equal(ran, 'second', 'tried again at 3 s: it ran');
    assert.deepEqual(dropped, []);

    // Reserved concurrency 0: every attempt is throttled.
    let outcome: unknown = 'pending';
    const lost = lambda.invokeAsync('mcp-server-beta', 'third').then((o) => (outcome = o));
    for (let i = 0; i < 100 && outcome === 'pending'; i++) {
      await clock.advance(5 * 60_000);
      await settle();
    }
    await lost;
    assert.equal(outcome, undefined, 'dropped');
    assert.deepEqual(dropped, ['mcp-server-beta: throttled until the event was 6 hours old']);
    await lambda.shutdown();
  });

  test('an asynchronous event whose attempt fails is tried twice more, 1 and 2 minutes later, with its one request id; failed three times, it is dropped and told', async () => {
    const seen: { event: unknown; requestId: string }[] = [];
    let failFor = 0;
    const envs = scriptedEnvironments(() => ({
      answer: (msg): InvokeReply => {
        seen.push({ event: msg.event, requestId: msg.requestId });
        const failing = seen.filter((s) => s.event === msg.event).length <= failFor;
        return failing
          ? { type: 'error', requestId: msg.requestId, errorType: 'Runtime.ExitError', errorMessage: 'boom' }
          : result(msg, msg.event);
      },
    }));
    const clock = new ManualClock();
    const dropped: string[] = [];
    const lambda = new LocalLambda(servers(FLEET), {
      workDir: work,
      cwd: work,
      environments: envs.factory,
      clock,
      onEventDropped: (fn, why) => dropped.push(`${fn}: ${why}`),
    });

    // Fails twice, then runs: at 0, 1 minute and 3 minutes.
    failFor = 2;
    let ran: unknown = 'pending';
    const retried = lambda
      .invokeAsync('mcp-server-alpha', 'once', { requestId: 'req-1' })
      .then((o) => (ran = o?.payload));
    await settle();
    assert.equal(seen.length, 1);
    await clock.advance(59_999);
    await settle();
    assert.equal(seen.length, 1, 'not tried again before a minute');
    await clock.advance(1);
    await settle();
    assert.equal(seen.length, 2, 'tried again after a minute');
    await clock.advance(119_999);
    await settle();
    assert.equal(seen.length, 2, 'not again before two more minutes');
    await clock.advance(1);
    await retried;
    assert.equal(ran, 'once', 'the third attempt ran');
    assert.deepEqual(
      seen.map((s) => s.requestId),
      ['req-1', 'req-1', 'req-1'],
      "every attempt has the event's request id",
    );
    assert.deepEqual(dropped, []);

    // Fails every time: three attempts, then dropped with the last failure named.
    failFor = 99;
    seen.length = 0;
    let outcome: unknown = 'pending';
    const lost = lambda.invokeAsync('mcp-server-alpha', 'never').then((o) => (outcome = o?.functionError));
    for (let i = 0; i < 10 && outcome === 'pending'; i++) {
      await clock.advance(60_000);
      await settle();
    }
    await lost;
    assert.equal(seen.length, 3, 'three attempts in all');
    assert.equal(outcome, 'Unhandled');
    assert.deepEqual(dropped, ['mcp-server-alpha: failed 3 times (the last: Runtime.ExitError)']);

    // Waiting to be tried again when the service stops: dropped and told, nothing left pending.
    dropped.length = 0;
    const waiting = lambda.invokeAsync('mcp-server-beta', 'late');
    await settle();
    await lambda.shutdown();
    assert.equal(await waiting, undefined);
    assert.deepEqual(dropped, [
      'mcp-server-beta: failed 1 time (the last: Runtime.ExitError); the service stopped before it was tried again',
    ]);
  });

  test('a reload replaces a changed function while its running call finishes on the old one', async () => {
    const answers: ((r: InvokeReply) => void)[] = [];
    const envs = scriptedEnvironments((i) =>
      i === 0
        ? {
            answer: (msg) =>
              new Promise<InvokeReply>((resolve) =>
                answers.push(() => {
                  resolve(result(msg, 'old'));
                }),
              ),
          }
        : {},
    );
    const lambda = new LocalLambda(servers(FLEET), {
      workDir: work,
      cwd: work,
      environments: envs.factory,
      clock: new ManualClock(),
    });
    const running = lambda.invoke('mcp-server-alpha', 'slow');
    await settle();
    const old = lambda.resolve('mcp-server-alpha');
    const applying = lambda.apply(
      servers(FLEET.replace('alpha: { command: a }', 'alpha: { command: a, timeout: 99 }')),
    );
    await settle();
    assert.notEqual(lambda.resolve('mcp-server-alpha'), old, 'the new function takes the name at once');
    assert.equal(envs.started[0]?.state, 'busy', 'the old environment still serves its call');
    answers[0]?.(result({ type: 'invoke', requestId: '', event: null, deadline: 0 }, 'old'));
    assert.deepEqual((await running).payload, 'old');
    assert.deepEqual(await applying, { added: [], replaced: ['alpha'], removed: [], unchanged: ['beta'] });
    assert.equal(envs.started[0]?.state, 'stopped', 'then the old environment is stopped');
    assert.deepEqual((await lambda.invoke('mcp-server-alpha', 'new')).payload, 'new');
    await lambda.shutdown();
  });

  test('a reload that only moves servers in the file leaves their warm environments alone', async () => {
    const { lambda, envs } = make();
    await lambda.invoke('mcp-server-beta', 1);
    const change = await lambda.apply(servers(`\n\n${FLEET}`));
    assert.deepEqual(change.unchanged, ['alpha', 'beta']);
    assert.equal((await lambda.invoke('mcp-server-beta', 2)).coldStart, false);
    assert.equal(envs.started.length, 1);
    await lambda.shutdown();
  });
});
