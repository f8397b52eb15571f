import { describeExit, ServerExitedError, type ExitInfo } from './child.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  isResponse,
  success,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../protocol/jsonrpc.js';
import { STDIO_PROTOCOL_VERSION } from './limits.js';
import { askableCapabilities, CLIENT_FEATURES, undeclaredFeature } from '../protocol/bridge.js';
import { SESSION_HOSTS } from '../config/limits.js';
import type { RuntimeLogger } from './observability.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { onAbort } from '../platform/abort.js';
import { systemClock, type Clock, type ClockTimer } from '../platform/time.js';

/** The part of a transport a connection needs (the MCP SDK's `Transport` shape, plus the exit). */
export interface ServerTransport {
  start(): Promise<void>;
  send(message: JsonRpcMessage): Promise<void>;
  /** Graceful stop; `reason` is what a call it ends is told. */
  close(reason?: string): Promise<void>;
  kill(reason: string): Promise<void>;
  onmessage?: (message: JsonRpcMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  readonly exit: ExitInfo | undefined;
  readonly done: Promise<ExitInfo>;
  stderrTail(): string;
  readonly pid: number | undefined;
}

/** After a failed write, how long the process's exit (which explains it) is waited for. */
const SEND_FAILURE_GRACE_MS = 1_000;

/**
 * Local failure: a call ran out of time. Either the server was stopped (it served no other call:
 * `stopped`), or, on a process other calls share, only this request was cancelled.
 */
export class CallTimeoutError extends FleetError {
  constructor(
    readonly method: string,
    readonly ms: number,
    /** False when only the request was cancelled and the process goes on serving other calls. */
    readonly stopped = true,
  ) {
    super(
      FLEET_ERROR.callTimeout,
      stopped
        ? `${method} did not answer within ${ms} ms; the server process was stopped and will be replaced`
        : `${method} did not answer within ${ms} ms; the request was cancelled (notifications/cancelled sent to the server), whose process goes on serving the other calls in flight`,
    );
    this.name = 'CallTimeoutError';
  }

  override rpcData(): Record<string, unknown> {
    const data = { reason: 'timeout', method: this.method, ms: this.ms };
    return this.stopped ? data : { ...data, stopped: false };
  }
}

/** Local failure: the caller went away (or cancelled) before the answer; the server was told. */
export class CallCancelledError extends FleetError {
  constructor(
    readonly method: string,
    readonly why: string,
  ) {
    super(
      FLEET_ERROR.callerGone,
      `${method} was cancelled (${why}); the server was sent notifications/cancelled and its answer, if any, is dropped`,
    );
    this.name = 'CallCancelledError';
  }

  override rpcData(): Record<string, unknown> {
    return { reason: 'cancelled', method: this.method };
  }
}

/** How a connection's process is used. */
export interface ConnectionOptions {
  /**
   * Calls share this process (a multi-call host): a request that runs out of time while others
   * are in flight is cancelled (`notifications/cancelled`) instead of stopping the process.
   */
  shared?: boolean;
  /** The host it runs on, named in the error a server gets when its client cannot be asked. */
  host?: string;
  /**
   * The client of the session this process serves (a host that keeps the session: an AgentCore
   * Runtime session): the server learns at its `initialize` what the client can answer, and its
   * questions and notifications may reach it. Without it, the server's questions are refused.
   */
  client?: ClientChannel;
}

export interface RequestOptions {
  /**
   * The request fails after this long (the process is stopped, unless other calls share it);
   * `Infinity`: no limit.
   */
  timeoutMs: number;
  /** Notifications the server sends while this request runs (progress for its token, logging). */
  onNotification?: (n: JsonRpcNotification) => void;
  /** The caller went away: the server is sent `notifications/cancelled`, the call fails at once. */
  signal?: AbortSignal;
  /**
   * Requests the server sends its client while this request runs (elicitation, sampling, roots),
   * under ids of ours; the client's answer comes back through {@link McpConnection.answerClient}.
   */
  onRequest?: (r: JsonRpcRequest) => void;
}

interface Pending {
  method: string;
  /** The caller's progress token, replaced on the stdio side by one of ours. */
  clientProgressToken?: string | number;
  resolve: (r: JsonRpcResponse) => void;
  reject: (e: Error) => void;
  progressToken?: string | number;
  onNotification?: (n: JsonRpcNotification) => void;
  onRequest?: (r: JsonRpcRequest) => void;
  timer: ClockTimer | undefined;
  /** Stops watching the caller's abort signal. */
  unwatch?: () => void;
}

/** How many cancelled request ids are remembered (their late answers dropped quietly). */
const CANCELLED_REMEMBERED = 1024;
/** Our progress tokens on the stdio side: `mcp-fleet-<our request id>`. */
const TOKEN_PREFIX = 'mcp-fleet-';

/** The one client of a session, as the processes serving it reach it. */
export interface ClientChannel {
  /** What the client declared it can do (its `initialize`), once it said. */
  capabilities?: Record<string, unknown>;
  /**
   * The session's standalone stream (the client's GET), while it is open: the server's
   * notifications that belong to no call, and its questions asked between calls.
   */
  stream?: (message: JsonRpcNotification | JsonRpcRequest) => void;
  /** Ends the standalone stream (the session ends). */
  endStream?: () => void;
  /** Which connection asked each question the client has not answered yet, by the client's id. */
  readonly asked: Map<string, McpConnection>;
}

/** Ids of the server's requests as its client sees them (the server's own could collide). */
const ASK_PREFIX = 'mcp-fleet-ask-';

/** A server's request relayed to the client, waiting for its answer. */
interface Relayed {
  /** The id the server gave it. */
  serverId: RequestId;
  method: string;
  /** Our id of the call it was asked during; undefined when asked on the standalone stream. */
  call: RequestId | undefined;
  onNotification?: (n: JsonRpcNotification) => void;
}

/**
 * An initialized MCP session with one server process: our own request ids on the stdio side
 * (so callers' ids can never collide), timeouts, crash reporting, and answers to the server's
 * own requests.
 */
export class McpConnection {
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private initResult?: Record<string, unknown>;
  private closedError?: Error;
  /** Requests we cancelled: their late answers and progress are dropped, not logged as strays. */
  private readonly cancelled = new Set<RequestId>();
  /** The server's requests relayed to the client, by the id the client sees. */
  private readonly relayed = new Map<string, Relayed>();
  private nextAsk = 1;

  constructor(
    readonly serverId: string,
    private readonly transport: ServerTransport,
    private readonly log: RuntimeLogger,
    private readonly clientInfo: { name: string; version: string },
    /** Time: each request's timeout (default the machine's). */
    private readonly clock: Clock = systemClock,
    private readonly options: ConnectionOptions = {},
  ) {
    transport.onmessage = (m) => {
      this.onMessage(m);
    };
    transport.onerror = (e) => {
      this.log.warn('server transport error', { serverId, error: e.message });
    };
    transport.onclose = () => {
      this.onClose();
    };
  }

  get pid(): number | undefined {
    return this.transport.pid;
  }

  get alive(): boolean {
    return this.closedError === undefined && this.transport.exit === undefined;
  }

  get done(): Promise<ExitInfo> {
    return this.transport.done;
  }

  /** The end of what the server wrote to stderr. */
  stderrTail(): string {
    return this.transport.stderrTail();
  }

  /** The server's answer to `initialize`. */
  get initializeResult(): Record<string, unknown> {
    if (!this.initResult) throw new Error('not initialized');
    return this.initResult;
  }

  /**
   * Starts the process and runs the MCP handshake, within `timeoutMs` when given. Without one the
   * handshake may take as long as it takes: whoever waits for it decides when to give up (kill).
   */
  async open(timeoutMs = Infinity): Promise<Record<string, unknown>> {
    await this.transport.start();
    if (this.transport.exit) throw this.exitError('initialize', this.transport.exit);
    const response = await this.request(
      'initialize',
      {
        protocolVersion: STDIO_PROTOCOL_VERSION,
        capabilities: askableCapabilities(this.options.client?.capabilities),
        clientInfo: this.clientInfo,
      },
      { timeoutMs },
    );
    if ('error' in response) {
      throw new ServerExitedError(
        `server "${this.serverId}" refused initialize: ${response.error.message} (code ${response.error.code})`,
        { code: null, signal: null },
        this.transport.stderrTail(),
      );
    }
    this.initResult = response.result;
    await this.transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return response.result;
  }

  /** Requests sent and not answered yet (calls in flight on this process). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; resolves with the server's response (result or error) under the caller's id. */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    opts: RequestOptions,
  ): Promise<JsonRpcResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (opts.signal?.aborted === true)
      return Promise.reject(new CallCancelledError(method, 'the caller went away before it was sent'));
    const id = this.nextId++;
    // Progress tokens are rewritten like ids: two callers may use the same token.
    const meta = params?.['_meta'];
    const clientToken =
      typeof meta === 'object' && meta !== null
        ? (meta as Record<string, unknown>)['progressToken']
        : undefined;
    const hasToken = typeof clientToken === 'string' || typeof clientToken === 'number';
    const sentParams =
      hasToken && params !== undefined
        ? {
            ...params,
            _meta: { ...(meta as Record<string, unknown>), progressToken: `${TOKEN_PREFIX}${id}` },
          }
        : params;
    const message: JsonRpcRequest =
      sentParams === undefined
        ? { jsonrpc: '2.0', id, method }
        : { jsonrpc: '2.0', id, method, params: sentParams };
    return new Promise<JsonRpcResponse>((resolve, reject) => {
      const timer = Number.isFinite(opts.timeoutMs)
        ? this.clock.setTimeout(
            () => {
              this.onTimeout(id, method, opts.timeoutMs);
            },
            Math.max(1, opts.timeoutMs),
          )
        : undefined;
      const entry: Pending = { method, resolve, reject, timer };
      if (hasToken) {
        entry.progressToken = `${TOKEN_PREFIX}${id}`;
        entry.clientProgressToken = clientToken;
      }
      if (opts.onNotification) entry.onNotification = opts.onNotification;
      if (opts.onRequest) entry.onRequest = opts.onRequest;
      if (opts.signal) entry.unwatch = this.watchAbort(id, method, opts.signal);
      this.pending.set(id, entry);
      this.transport.send(message).catch((err: unknown) => {
        this.onSendFailed(id, method, err as Error);
      });
    });
  }

  /**
   * Cancels one request of ours: the server is sent `notifications/cancelled` (the MCP way) and
   * its answer, when it comes anyway, is dropped. The call itself is failed by whoever cancels.
   */
  private cancel(id: RequestId, reason: string): void {
    this.cancelled.add(id);
    if (this.cancelled.size > CANCELLED_REMEMBERED) {
      const oldest = this.cancelled.values().next().value;
      if (oldest !== undefined) this.cancelled.delete(oldest);
    }
    this.notify('notifications/cancelled', { requestId: id, reason }).catch(() => undefined);
  }

  /** The pending request `id`, taken out (its timer stopped, its abort no longer watched). */
  private take(id: RequestId): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    this.stopTimer(entry.timer);
    entry.unwatch?.();
    if (this.relayed.size > 0) this.endRelayed(id);
    return entry;
  }

  /**
   * The call a server's question was relayed with has ended (answered, failed, timed out or
   * cancelled). stdio does not say which call asked (the question went with the oldest call that
   * had a stream), so while another call is in flight the question may be that call's: it stays,
   * taken on by that call (its notifications, its end). Once no call is left, its questions still
   * unanswered are answered to the server with an error, so that it does not wait on.
   */
  private endRelayed(call: RequestId): void {
    for (const [clientId, r] of this.relayed) {
      if (r.call !== call) continue;
      const next = [...this.pending].find(([, p]) => p.onRequest !== undefined);
      if (next !== undefined) {
        r.call = next[0];
        if (next[1].onNotification !== undefined) r.onNotification = next[1].onNotification;
        continue;
      }
      this.forget(clientId);
      this.transport
        .send(
          failure(r.serverId, {
            code: ErrorCode.InternalError,
            message: `the client did not answer ${r.method} before the request it was asked during ended`,
          }),
        )
        .catch(() => undefined);
    }
  }

  /**
   * The client's answer to a request the server sent it: handed to the server under the server's
   * own id. False when no question of this server has that id (unknown, or its call has ended).
   */
  async answerClient(response: JsonRpcResponse): Promise<boolean> {
    const key = typeof response.id === 'string' ? response.id : undefined;
    const r = key === undefined ? undefined : this.relayed.get(key);
    if (key === undefined || r === undefined) return false;
    this.forget(key);
    try {
      await this.transport.send({ ...response, id: r.serverId });
    } catch {
      // The server is gone; its calls are failed by onClose.
    }
    return true;
  }

  /** A question answered or given up: no answer to it is taken any more. */
  private forget(clientId: string): void {
    this.relayed.delete(clientId);
    if (this.options.client?.asked.get(clientId) === this) this.options.client.asked.delete(clientId);
  }

  /** Whether a client's answer with this id would reach this server. */
  asked(id: RequestId | null): boolean {
    return typeof id === 'string' && this.relayed.has(id);
  }

  /**
   * A request ran out of time. When other calls are in flight on a shared process, only it is
   * cancelled; otherwise the process is stopped (it may be hung, and nobody else needs it).
   */
  private onTimeout(id: RequestId, method: string, ms: number): void {
    const entry = this.take(id);
    if (!entry) return;
    if (this.options.shared === true && this.pending.size > 0) {
      entry.reject(new CallTimeoutError(method, ms, false));
      this.cancel(id, `timed out after ${ms} ms`);
      return;
    }
    const error = new CallTimeoutError(method, ms);
    // Unusable from now on, even before the kill has taken effect.
    this.closedError ??= error;
    entry.reject(error);
    void this.transport.kill(`${method} timed out after ${ms} ms`);
  }

  /** The caller's signal: when it aborts, the request is cancelled and the call failed at once. */
  private watchAbort(id: RequestId, method: string, signal: AbortSignal): () => void {
    return onAbort(signal, (reason) => {
      const entry = this.take(id);
      if (!entry) return;
      const why = typeof reason === 'string' ? reason : 'the caller went away';
      entry.reject(new CallCancelledError(method, why));
      this.cancel(id, why);
    });
  }

  private onSendFailed(id: RequestId, method: string, err: Error): void {
    if (!this.pending.has(id)) return;
    const fail = (): void => {
      const entry = this.take(id);
      entry?.reject(this.transport.exit ? this.exitError(method, this.transport.exit) : err);
    };
    if (this.transport.exit) {
      fail();
      return;
    }
    // A write to a server that is exiting fails first (EPIPE); its exit, moments later, says
    // why (onClose fails the call with the exit code and the server's last stderr).
    this.clock.setTimeout(fail, SEND_FAILURE_GRACE_MS).unref?.();
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    await this.transport.send(
      params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params },
    );
  }

  /** Graceful stop; `reason` is what a call it ends is told. */
  close(reason?: string): Promise<void> {
    return this.transport.close(reason);
  }

  /** Immediate stop of the whole process group. */
  kill(reason: string): Promise<void> {
    return this.transport.kill(reason);
  }

  private onMessage(message: JsonRpcMessage): void {
    if (isResponse(message)) {
      const entry = message.id === null ? undefined : this.take(message.id);
      if (!entry) {
        if (message.id !== null && this.cancelled.delete(message.id)) {
          this.log.debug('answer to a cancelled request dropped', {
            serverId: this.serverId,
            id: message.id,
          });
          return;
        }
        this.log.warn('response to no pending request', { serverId: this.serverId, id: message.id });
        return;
      }
      entry.resolve(message);
      return;
    }
    if (isRequest(message)) {
      void this.answerServerRequest(message);
      return;
    }
    if (isNotification(message)) this.routeNotification(message);
  }

  private async answerServerRequest(req: JsonRpcRequest): Promise<void> {
    let reply: JsonRpcResponse;
    if (req.method === 'ping') {
      reply = success(req.id, {});
    } else {
      const feature = CLIENT_FEATURES[req.method];
      // A server that asks what its client did not offer (it was told at its initialize) is
      // answered here: the client would have to refuse a request it never said it takes.
      const client = this.options.client;
      const undeclared =
        client !== undefined && undeclaredFeature(req.method, client.capabilities) !== undefined;
      if (feature !== undefined && !undeclared && this.relay(req)) return;
      const message =
        feature === undefined
          ? `method not found: ${req.method}`
          : undeclared
            ? `the client did not declare the ${feature} capability at its initialize, so it is not asked ${req.method} (the server's initialize said what it can answer)`
            : this.refusal(req.method, feature);
      this.log.warn('server-to-client request refused', { serverId: this.serverId, method: req.method });
      reply = failure(req.id, { code: ErrorCode.MethodNotFound, message });
    }
    try {
      await this.transport.send(reply);
    } catch {
      // The server is gone; its pending requests are failed by onClose.
    }
  }

  /**
   * Sends a server's question to the client of the session: on the stream of the call in flight
   * (the only one, else the oldest whose stream can carry it: stdio says nothing of which call
   * asked), else on the session's standalone stream when the client keeps one open. False when
   * nothing can carry it (no session client, or no stream open).
   */
  private relay(req: JsonRpcRequest): boolean {
    const client = this.options.client;
    if (client === undefined) return false;
    let call: RequestId | undefined;
    let entry: Pending | undefined;
    for (const [id, p] of this.pending) {
      if (p.onRequest === undefined) continue;
      call = id;
      entry = p;
      break;
    }
    const send = entry?.onRequest ?? client.stream;
    if (send === undefined) return false;
    const clientId = `${ASK_PREFIX}${this.nextAsk++}`;
    const relayed: Relayed = { serverId: req.id, method: req.method, call };
    // Asked on the standalone stream: whichever stream the client has open when the server cancels.
    const notify =
      entry === undefined
        ? (n: JsonRpcNotification): void => {
            client.stream?.(n);
          }
        : entry.onNotification;
    if (notify) relayed.onNotification = notify;
    this.relayed.set(clientId, relayed);
    client.asked.set(clientId, this);
    this.log.info('server-to-client request relayed', {
      serverId: this.serverId,
      method: req.method,
      id: clientId,
      on: entry === undefined ? 'the standalone stream' : 'the call stream',
    });
    send({ ...req, id: clientId });
    return true;
  }

  /** Why the server's question cannot reach the client here, and where it could. */
  private refusal(method: string, feature: string): string {
    const host = this.options.host ?? 'function';
    const relaying = this.options.client !== undefined;
    const why = relaying
      ? 'no request of this session is in flight with an event stream the question could travel on (the client asked for JSON, or the server asked between calls), and the session has no standalone stream open (GET)'
      : host === 'function' || host === 'managed-instances'
        ? "a Lambda function answers each request on its own: the client's reply would be a new request, which may land on another Lambda environment than the one running this call"
        : "a web function keeps no session: the client's reply would be a new request, which may land on another environment than the one running this call";
    const where = relaying ? 'this session' : `host ${host}`;
    return `the client behind mcp-fleet cannot answer ${method}: ${feature} is not offered through this front on ${where} (${why})${relaying ? '' : `; hosts that keep the session relay it: ${SESSION_HOSTS.join(', ')}`}`;
  }

  private routeNotification(n: JsonRpcNotification): void {
    // The server gave up a question it asked the client: the client is told, under our id.
    if (n.method === 'notifications/cancelled' && this.relayed.size > 0) {
      const asked = n.params?.['requestId'];
      for (const [clientId, r] of this.relayed) {
        if (r.serverId !== asked) continue;
        this.forget(clientId);
        r.onNotification?.({ ...n, params: { ...n.params, requestId: clientId } });
        return;
      }
    }
    const token = n.params?.['progressToken'];
    if (n.method === 'notifications/progress' && token !== undefined) {
      for (const entry of this.pending.values()) {
        if (entry.progressToken === token && entry.onNotification) {
          entry.onNotification({ ...n, params: { ...n.params, progressToken: entry.clientProgressToken } });
          return;
        }
      }
      if (this.isCancelledToken(token)) return;
    } else if (n.method === 'notifications/message' && this.pending.size === 1) {
      const only = [...this.pending.values()][0];
      if (only?.onNotification) {
        only.onNotification(n);
        return;
      }
    }
    // Belongs to no call (resources/updated, list_changed, a log line between calls): the
    // session's standalone stream when its client keeps one open, else the log.
    const stream = this.options.client?.stream;
    if (stream !== undefined) {
      stream(n);
      return;
    }
    this.log.info('server notification', { serverId: this.serverId, method: n.method, params: n.params });
  }

  /** Progress for a request we cancelled: nobody waits for it. */
  private isCancelledToken(token: unknown): boolean {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) return false;
    return this.cancelled.has(Number(token.slice(TOKEN_PREFIX.length)));
  }

  private onClose(): void {
    for (const clientId of [...this.relayed.keys()]) this.forget(clientId);
    const exit = this.transport.exit ?? { code: null, signal: null };
    for (const id of [...this.pending.keys()]) {
      const entry = this.take(id);
      entry?.reject(this.exitError(entry.method, exit));
    }
    this.closedError = this.exitError('a request', exit);
  }

  private stopTimer(timer: ClockTimer | undefined): void {
    if (timer !== undefined) this.clock.clearTimeout(timer);
  }

  private exitError(during: string, exit: ExitInfo): ServerExitedError {
    const tail = this.transport.stderrTail();
    const phase = this.initResult ? `during ${during}` : 'before it finished initialize';
    const message = `server "${this.serverId}" ${describeExit(exit)} ${phase}${tail ? `; its last stderr output: ${tail}` : ''}`;
    return new ServerExitedError(message, exit, tail);
  }
}
