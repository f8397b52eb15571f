/**
 * The sessions of the AgentCore Runtime session entry (session-server.ts): each session its own
 * server processes (a {@link ServerPool} of one process, taking the spec's `concurrency` calls at
 * once), its own bridge and its own folder; nothing of one session is reachable from another.
 *
 * Which session a request is for, from its headers (AgentCore forwards both):
 * - `Mcp-Session-Id` (the id this entry gave the client), else
 *   `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` (the platform's).
 * - A session open here: that session.
 * - The platform's id, not seen here before: a new session with that id (AgentCore runs one
 *   microVM per runtime session, and names it before the first request comes).
 * - No id at all, on an `initialize`: a new session with a new id (a client talking to the entry
 *   directly, as `agentcore dev` does).
 * - Anything else — an id that ended here, one this entry never gave, no id on another request —
 *   is refused: 404 "Session not found" (the MCP specification's answer for an expired session:
 *   the client starts a new one), or 400 without any id.
 *
 * Each session's folder (`<sessions dir>/s<n>`) is its server's working directory and holds its
 * HOME, TMPDIR and XDG config/data/state folders; the server also gets its path as
 * MCP_FLEET_SESSION_DIR, and `${MCP_FLEET_SESSION_DIR}` in the launch spec's env values is replaced
 * by it (for a server that takes an absolute path: `MEMORY_FILE_PATH:
 * ${MCP_FLEET_SESSION_DIR}/memory.jsonl`). It is removed when the session ends, as a microVM's
 * disk goes with it.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { LaunchSpec } from '../config/model.js';
import { METRICS_NAMESPACE } from '../contract/metrics.js';
import { FUNCTION_ENV } from '../contract/function-env.js';
import { ErrorCode } from '../protocol/jsonrpc.js';
import { initEnvironment, type HandlerEnvironment, type HandlerOptions } from './handler.js';
import type { RuntimeLogger } from './observability.js';
import { InFlight } from './web-function.js';

/** The header a client names its MCP session with (Streamable HTTP). */
export const MCP_SESSION_HEADER = 'mcp-session-id';
/** The header AgentCore names the runtime session with. */
export const RUNTIME_SESSION_HEADER = 'x-amzn-bedrock-agentcore-runtime-session-id';
/** The session's own folder, in its server's environment (and in the launch spec's env values). */
export const SESSION_DIR_ENV = FUNCTION_ENV.sessionDir;
/** The MCP SDK's (and AgentCore's) JSON-RPC code of "Session not found". */
export const SESSION_NOT_FOUND_CODE = -32001;
/** Ended ids remembered (to answer them 404 rather than start them again), oldest forgotten first. */
const ENDED_KEPT = 10_000;

export interface RuntimeSession {
  readonly id: string;
  /** The session's own environment: its server pool, bridge, telemetry and redactor. */
  readonly env: HandlerEnvironment;
  /** Its calls in flight (a client's `notifications/cancelled` names one of its own). */
  readonly inFlight: InFlight;
  /** Its folder (working directory, HOME, TMPDIR). */
  readonly dir: string;
}

/** What a request is, for the table: may it start a session, and is it an `initialize`. */
export interface SessionAsk {
  /** A POST (a DELETE or a GET never starts one). */
  mayStart: boolean;
  initialize: boolean;
}

export type SessionLookup =
  { session: RuntimeSession } | { refused: { status: number; code: number; message: string } };

export interface SessionTableOptions {
  /** The handler options each session's environment is set up with. */
  options: HandlerOptions;
  /** Where the sessions' folders go. */
  root: string;
  log: RuntimeLogger;
}

export class SessionTable {
  private readonly live = new Map<string, RuntimeSession>();
  private readonly ended = new Set<string>();
  private made = 0;
  /** The Powertools logger and metrics the sessions share (unless the options log elsewhere). */
  private readonly logger: Logger | undefined;
  private readonly metrics: Metrics;

  constructor(
    private readonly spec: LaunchSpec,
    private readonly opts: SessionTableOptions,
  ) {
    const { options } = opts;
    this.logger =
      options.log !== undefined
        ? undefined
        : (options.logger ??
          new Logger({ serviceName: `mcp-server-${spec.id}`, persistentKeys: { serverId: spec.id } }));
    this.metrics =
      options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `mcp-server-${spec.id}` });
  }

  /** The session a request's headers name (started now when it is a new one), or why it is refused. */
  lookup(headers: Readonly<Record<string, string>>, ask: SessionAsk): SessionLookup {
    const mcp = nonEmpty(headers[MCP_SESSION_HEADER]);
    const runtime = nonEmpty(headers[RUNTIME_SESSION_HEADER]);
    const id = mcp ?? runtime;
    if (id === undefined) {
      if (ask.mayStart && ask.initialize) return { session: this.open(randomUUID()) };
      return refused(
        400,
        ErrorCode.InvalidRequest,
        'Bad Request: no session: send Mcp-Session-Id (or X-Amzn-Bedrock-AgentCore-Runtime-Session-Id), or begin a session with initialize',
      );
    }
    const known = this.live.get(id);
    if (known !== undefined) return { session: known };
    if (ask.mayStart && id === runtime && !this.ended.has(id)) return { session: this.open(id) };
    return refused(
      404,
      SESSION_NOT_FOUND_CODE,
      `Session not found: ${id.slice(0, 64)} (it ended or never began here); start a new session with initialize`,
    );
  }

  /** The sessions open now. */
  sessions(): RuntimeSession[] {
    return [...this.live.values()];
  }

  /**
   * Ends a session: its id is unknown from now on (404), its server's process groups are killed
   * (its calls in flight fail) and its folder removed. Resolves when its processes are gone.
   */
  async end(id: string, why: string): Promise<void> {
    const session = this.live.get(id);
    if (session === undefined) return;
    this.live.delete(id);
    this.ended.add(id);
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.values().next().value ?? id);
    this.opts.log.info('session ended', { sessionId: id, why });
    session.env.client?.endStream?.();
    await session.env.supervisor.kill(`the session ended (${why})`);
    await rm(session.dir, { recursive: true, force: true });
  }

  /** Ends every session at once (the entry shuts down). */
  async endAll(why: string): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.end(id, why)));
  }

  /** A new session: its folder and environment (its server starts with its first call). */
  private open(id: string): RuntimeSession {
    this.made += 1;
    const dir = path.join(this.opts.root, `s${this.made}`);
    const env = initEnvironment(sessionSpec(this.spec, dir), this.sessionOptions(id));
    const session: RuntimeSession = { id, env, inFlight: new InFlight(env.telemetry.log), dir };
    this.live.set(id, session);
    this.opts.log.info('session started', { sessionId: id });
    return session;
  }

  /** The handler options of one session: its log lines carry its id. */
  private sessionOptions(id: string): HandlerOptions {
    const { options } = this.opts;
    const keys = { sessionId: id };
    return {
      ...options,
      warmup: false,
      // One client per session: the server's questions can be put to it.
      relay: true,
      metrics: this.metrics,
      ...(options.log !== undefined
        ? { log: withKeys(options.log, keys) }
        : { logger: this.logger?.createChild({ persistentKeys: keys }) }),
    };
  }
}

/**
 * A session's launch spec: its folder as working directory (unless the spec names one), its
 * HOME, TMPDIR and XDG folders there (the spec's own env wins), `${MCP_FLEET_SESSION_DIR}` in env
 * values, args and the working directory replaced; one server process taking the spec's
 * `concurrency` calls at once.
 */
export function sessionSpec(spec: LaunchSpec, dir: string): LaunchSpec {
  const own: Record<string, string> = {
    HOME: path.join(dir, 'home'),
    TMPDIR: path.join(dir, 'tmp'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_STATE_HOME: path.join(dir, 'state'),
  };
  for (const folder of Object.values(own)) mkdirSync(folder, { recursive: true });
  const placed = (v: string): string => v.replaceAll(`\${${SESSION_DIR_ENV}}`, dir);
  const configured = Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, placed(v)]));
  return {
    ...spec,
    args: spec.args.map(placed),
    env: { ...own, [SESSION_DIR_ENV]: dir, ...configured },
    cwd: spec.cwd === undefined ? dir : placed(spec.cwd),
    processes: 1,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function refused(status: number, code: number, message: string): SessionLookup {
  return { refused: { status, code, message } };
}

/** A logger whose every line carries `keys`. */
function withKeys(log: RuntimeLogger, keys: Record<string, unknown>): RuntimeLogger {
  const at =
    (level: keyof RuntimeLogger) =>
    (message: string, extra?: Record<string, unknown>): void => {
      log[level](message, { ...keys, ...extra });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
