/**
 * A gateway session's event stream (its client's GET `/mcp`), on one machine: for every target
 * session the gateway session keeps (those kept when the client opens its stream, and each one
 * started later), the target's own event stream is opened and read. The server's notifications
 * of no call go to the client as they come; its questions between calls are relayed under the
 * gateway's ids (the client answers them with a POST of the same session, as it answers a
 * call's questions). A target stream that is cut (its invocation's timeout) is opened again while
 * the client listens. The client's stream ends when the client goes away, when its session ends
 * (DELETE, or its timeout), or at the gateway's deadline; the target streams are closed with it.
 */
import { onAbort } from '../../platform/abort.js';
import type { Clock, ClockTimer } from '../../platform/time.js';
import {
  isNotification,
  isRequest,
  type JsonRpcNotification,
  type JsonRpcRequest,
} from '../../protocol/jsonrpc.js';
import type { LocalFunction } from '../lambda/function.js';

/** What the session streams need of the MCP-server targets (mcp-target.ts). */
export interface TargetStreamHost {
  /**
   * One GET of a target session's event stream, each message handed to `onMessage` as it comes;
   * the HTTP status it was answered with, once the stream ended (undefined: no answer at all).
   */
  openStream(
    fn: LocalFunction,
    target: string,
    onMessage: (message: unknown) => void,
    signal: AbortSignal,
    deadline: number,
  ): Promise<number | undefined>;
  /** A server's question on its stream: the id the client sees it under, or undefined (refused). */
  relayQuestion(
    fn: LocalFunction,
    target: string,
    gatewaySession: string,
    q: JsonRpcRequest,
  ): string | undefined;
  /** A server's notification as the client gets it (a cancelled question under the client's id). */
  relayNotification(fn: LocalFunction, target: string, n: JsonRpcNotification): JsonRpcNotification;
  /** Questions relayed on a stream that has ended: no longer answerable. */
  forgetQuestions(ids: Iterable<string>): void;
}

/** A stream cut sooner than this after it opened is opened again only after this pause (ms). */
export const REOPEN_PAUSE_MS = 1_000;
/** A target whose stream is cut this many times in a row, each sooner than the pause, is let go. */
export const MAX_QUICK_CUTS = 5;

interface Listener {
  write: (message: unknown) => void;
  /** Aborted when the client's stream ends. */
  signal: AbortSignal;
  until: number;
  /** Server id → the target session whose stream is followed. */
  followed: Map<string, string>;
  /** The questions relayed on this stream (forgotten when it ends). */
  asked: Set<string>;
  end: () => void;
}

export class SessionStreams {
  private readonly listeners = new Map<string, Listener>();

  constructor(
    private readonly host: TargetStreamHost,
    private readonly clock: Clock,
  ) {}

  /** Whether the gateway session's client has its event stream open. */
  isOpen(gatewaySession: string): boolean {
    return this.listeners.has(gatewaySession);
  }

  /** The number of clients listening now. */
  get size(): number {
    return this.listeners.size;
  }

  /**
   * Serves a client's event stream until `signal` aborts (it went away), the session ends
   * ({@link end}) or `until` (epoch ms) passes; `targets` are the target sessions kept so far.
   */
  async listen(
    gatewaySession: string,
    write: (message: unknown) => void,
    signal: AbortSignal,
    until: number,
    targets: Iterable<[LocalFunction, string]>,
  ): Promise<void> {
    const ended = new AbortController();
    const listener: Listener = {
      write,
      signal: AbortSignal.any([signal, ended.signal]),
      until,
      followed: new Map(),
      asked: new Set(),
      end: () => {
        ended.abort(new Error('the session ended'));
      },
    };
    this.listeners.set(gatewaySession, listener);
    let timer: ClockTimer | undefined;
    try {
      await new Promise<void>((resolve) => {
        if (listener.signal.aborted) {
          resolve();
          return;
        }
        listener.signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
        timer = this.clock.setTimeout(listener.end, Math.max(0, until - this.clock.now()));
        for (const [fn, target] of targets) void this.follow(gatewaySession, listener, fn, target);
      });
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      if (this.listeners.get(gatewaySession) === listener) this.listeners.delete(gatewaySession);
      this.host.forgetQuestions(listener.asked);
    }
  }

  /** A target session the gateway session keeps from now on: followed if its client listens. */
  kept(gatewaySession: string, fn: LocalFunction, target: string): void {
    const listener = this.listeners.get(gatewaySession);
    if (listener !== undefined) void this.follow(gatewaySession, listener, fn, target);
  }

  /** Ends the client's stream of a session that ended. */
  end(gatewaySession: string): void {
    this.listeners.get(gatewaySession)?.end();
  }

  /** Ends every client's stream (the gateway is stopping): no target stream is opened again. */
  endAll(): void {
    for (const l of [...this.listeners.values()]) l.end();
  }

  /** Reads one target session's stream while the client listens and the session is kept. */
  private async follow(
    gatewaySession: string,
    l: Listener,
    fn: LocalFunction,
    target: string,
  ): Promise<void> {
    const key = fn.server.id;
    if (l.followed.get(key) === target) return;
    l.followed.set(key, target);
    const current = (): boolean => !l.signal.aborted && l.followed.get(key) === target;
    const take = (m: unknown): void => {
      if (!current()) return;
      if (isRequest(m)) {
        const id = this.host.relayQuestion(fn, target, gatewaySession, m);
        if (id === undefined) return;
        l.asked.add(id);
        l.write({ ...m, id });
      } else if (isNotification(m)) l.write(this.host.relayNotification(fn, target, m));
    };
    let quick = 0;
    while (current()) {
      const began = this.clock.monotonic();
      const status = await this.host.openStream(fn, target, take, l.signal, l.until).catch(() => undefined);
      if (!current()) return;
      // 200: cut (the invocation's timeout); 409: the session's previous stream is still closing.
      // Anything else (the session is gone, the target has no stream): let it go.
      if (status !== 200 && status !== 409) break;
      quick = this.clock.monotonic() - began < REOPEN_PAUSE_MS ? quick + 1 : 0;
      if (quick >= MAX_QUICK_CUTS) break;
      if (quick > 0) await this.pause(l.signal);
    }
    if (l.followed.get(key) === target) l.followed.delete(key);
  }

  private pause(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        unwatch();
        resolve();
      }, REOPEN_PAUSE_MS);
      const unwatch = onAbort(signal, () => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
  }
}
