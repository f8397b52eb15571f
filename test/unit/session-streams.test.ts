/**
 * The gateway sessions' event streams (src/local/gateway/session-streams.ts), in process, with a
 * scripted target and the manual clock: what a target's stream carries reaches the listening
 * client (questions under the gateway's ids), a cut stream is opened again (after a pause when it
 * was cut at once, given up after a run of such cuts), a target session that is gone is let go,
 * a newly kept target session is followed, and the client's stream ends when it leaves, when its
 * session ends and at its deadline, with the target streams closed and its questions forgotten.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LocalFunction } from '../../src/local/lambda/function.js';
import {
  MAX_QUICK_CUTS,
  REOPEN_PAUSE_MS,
  SessionStreams,
  type TargetStreamHost,
} from '../../src/local/gateway/session-streams.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../../src/protocol/jsonrpc.js';
import { ManualClock, settle } from '../support/clock.js';

const fn = (id: string): LocalFunction => ({ server: { id } }) as unknown as LocalFunction;

/** One GET of a target stream the scripted host is serving. */
interface Open {
  fn: LocalFunction;
  target: string;
  send: (m: unknown) => void;
  /** Ends the stream with an HTTP status. */
  close: (status: number | undefined) => void;
  signal: AbortSignal;
  /** Whether it has ended (closed by the target, or by the gateway). */
  ended: boolean;
}

class ScriptedHost implements TargetStreamHost {
  readonly opens: Open[] = [];
  readonly forgotten: string[] = [];
  private asked = 0;
  /** The status a new stream is answered with at once (undefined: it stays open). */
  answerAtOnce: number | undefined;

  openStream(
    f: LocalFunction,
    target: string,
    onMessage: (m: unknown) => void,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    return new Promise((resolve) => {
      const open: Open = {
        fn: f,
        target,
        send: onMessage,
        close: (status) => {
          open.ended = true;
          resolve(status);
        },
        signal,
        ended: false,
      };
      this.opens.push(open);
      signal.addEventListener(
        'abort',
        () => {
          open.close(200);
        },
        { once: true },
      );
      if (this.answerAtOnce !== undefined) open.close(this.answerAtOnce);
    });
  }

  relayQuestion(_f: LocalFunction, _t: string, _s: string, _q: JsonRpcRequest): string {
    return `gateway-ask-${++this.asked}`;
  }

  relayNotification(_f: LocalFunction, _t: string, n: JsonRpcNotification): JsonRpcNotification {
    return n.method === 'notifications/cancelled' ? { ...n, params: { requestId: 'mapped' } } : n;
  }

  forgetQuestions(ids: Iterable<string>): void {
    this.forgotten.push(...ids);
  }

  live(): Open[] {
    return this.opens.filter((o) => !o.ended);
  }
}

function setup(until = 3_600_000): {
  clock: ManualClock;
  host: ScriptedHost;
  streams: SessionStreams;
  got: unknown[];
  client: AbortController;
  listening: Promise<void>;
} {
  const clock = new ManualClock();
  const host = new ScriptedHost();
  const streams = new SessionStreams(host, clock);
  const got: unknown[] = [];
  const client = new AbortController();
  const listening = streams.listen('gw-1', (m) => got.push(m), client.signal, clock.now() + until, [
    [fn('everything'), 'target-a'],
  ]);
  return { clock, host, streams, got, client, listening };
}

describe('the gateway sessions’ event streams', () => {
  test("a target's notifications and questions reach the client; a cancellation under the client's id", async () => {
    const { host, streams, got, client, listening } = setup();
    await settle();
    assert.equal(streams.isOpen('gw-1'), true);
    assert.equal(host.opens.length, 1);
    const open = host.opens[0];
    assert.ok(open);
    open.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'x://1' } });
    open.send({ jsonrpc: '2.0', id: 'mcp-fleet-ask-1', method: 'roots/list' });
    open.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 'mcp-fleet-ask-1' },
    });
    open.send({ jsonrpc: '2.0', id: 7, result: {} });
    assert.deepEqual(got, [
      { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'x://1' } },
      { jsonrpc: '2.0', id: 'gateway-ask-1', method: 'roots/list' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'mapped' } },
    ]);
    client.abort();
    await listening;
    assert.equal(streams.isOpen('gw-1'), false);
    assert.equal(open.signal.aborted, true, "the target's stream is closed with the client's");
    assert.deepEqual(host.forgotten, ['gateway-ask-1']);
  });

  test('a stream cut after a while is opened again at once; one cut at once, after a pause; a run of them, given up', async () => {
    const { clock, host, client, listening } = setup();
    await settle();
    await clock.advance(60_000);
    host.opens[0]?.close(200);
    await settle();
    assert.equal(host.opens.length, 2, 'opened again at once after a long stream');
    host.answerAtOnce = 200;
    host.opens[1]?.close(200);
    // Cut at once: each next open waits a pause.
    await clock.advance(REOPEN_PAUSE_MS - 1);
    assert.equal(host.opens.length, 2);
    await clock.advance(1);
    assert.equal(host.opens.length, 3);
    await clock.advance(REOPEN_PAUSE_MS * (MAX_QUICK_CUTS + 2));
    assert.equal(host.opens.length, 1 + MAX_QUICK_CUTS, 'let go after a run of quick cuts');
    assert.equal(clock.pending, 1, "only the client's deadline is left");
    client.abort();
    await listening;
  });

  test('a target session that is gone (404) is let go; a new one the session keeps is followed', async () => {
    const { host, streams, client, listening } = setup();
    await settle();
    host.opens[0]?.close(404);
    await settle();
    assert.equal(host.opens.length, 1);
    streams.kept('gw-1', fn('everything'), 'target-b');
    streams.kept('gw-2', fn('everything'), 'target-c');
    await settle();
    assert.deepEqual(
      host.live().map((o) => o.target),
      ['target-b'],
      'only the listening session follows its new target session',
    );
    streams.kept('gw-1', fn('everything'), 'target-b');
    await settle();
    assert.equal(host.opens.length, 2, 'a target followed already is not opened twice');
    client.abort();
    await listening;
    assert.equal(host.live().length, 0);
  });

  test('the stream ends when the session ends, and at its deadline', async () => {
    const ended = setup();
    await settle();
    ended.streams.end('gw-1');
    await ended.listening;
    assert.equal(ended.host.live().length, 0);
    assert.equal(ended.client.signal.aborted, false);

    const timed = setup(30_000);
    await settle();
    await timed.clock.advance(29_999);
    assert.equal(timed.streams.isOpen('gw-1'), true);
    await timed.clock.advance(1);
    await timed.listening;
    assert.equal(timed.streams.isOpen('gw-1'), false);
    assert.equal(timed.host.live().length, 0);
  });
});
