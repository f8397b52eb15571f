/**
 * The sessions of an AgentCore Runtime host, as AgentCore keeps them: one environment (a microVM
 * there, a process group here) per session, started by the session's first request, reached by
 * that session only, ended after `idleTimeout` without a request or `maxLifetime` after it began.
 * A request naming a session that is not (or no longer) there is answered 404 "Session not
 * found"; the client then starts a new one. Time comes from the function's {@link Clock}.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, ClockTimer } from '../../platform/time.js';
import type { ExecutionEnvironment } from './environment.js';

/** The header a client names its MCP session with (Streamable HTTP). */
export const MCP_SESSION_HEADER = 'mcp-session-id';
/** The header AgentCore names the runtime session with (it forwards both to the container). */
export const RUNTIME_SESSION_HEADER = 'x-amzn-bedrock-agentcore-runtime-session-id';

/** What a request's headers say of its session. */
export type SessionRequest =
  | { kind: 'new'; id: string }
  | { kind: 'known'; id: string; env: ExecutionEnvironment }
  | { kind: 'unknown'; id: string };

interface Session {
  id: string;
  env: ExecutionEnvironment;
  startedAt: number;
  lastUsed: number;
  calls: number;
  /** Requests of the session running now (its idle clock waits for them). */
  running: number;
  idle?: ClockTimer;
  life: ClockTimer;
}

/** A session as /status shows it. */
export interface SessionView {
  id: string;
  startedAt: string;
  lastUsedAt: string;
  calls: number;
  running: number;
  /** Epoch ms when it ends unless a request comes first (the earlier of idle and lifetime). */
  endsAt: string;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  /** Sessions ended so far, and why (idle, lifetime, deleted, the environment ended). */
  readonly ended: Record<'idle' | 'lifetime' | 'deleted' | 'gone', number> = {
    idle: 0,
    lifetime: 0,
    deleted: 0,
    gone: 0,
  };

  constructor(
    private readonly clock: Clock,
    private readonly limits: { idleTimeoutMs: number; maxLifetimeMs: number },
  ) {}

  /**
   * The session a request belongs to. An `Mcp-Session-Id` names one the client was given; a
   * runtime session id alone is the caller's choice of id for a new session (as InvokeAgentRuntime
   * takes it); neither: a new session with a new id.
   */
  classify(headers: Readonly<Record<string, string>>): SessionRequest {
    const mcp = headers[MCP_SESSION_HEADER];
    const runtime = headers[RUNTIME_SESSION_HEADER];
    const id = mcp ?? runtime;
    if (id === undefined || id === '') return { kind: 'new', id: randomUUID() };
    const session = this.sessions.get(id);
    if (session !== undefined && session.env.state !== 'stopped')
      return { kind: 'known', id, env: session.env };
    if (session !== undefined) this.end(id, 'gone');
    return mcp === undefined ? { kind: 'new', id } : { kind: 'unknown', id };
  }

  /** A new session's environment; its lifetime starts now. */
  open(id: string, env: ExecutionEnvironment): void {
    const now = this.clock.now();
    const session: Session = {
      id,
      env,
      startedAt: now,
      lastUsed: now,
      calls: 0,
      running: 0,
      life: this.clock.setTimeout(() => {
        this.end(id, 'lifetime');
      }, this.limits.maxLifetimeMs),
    };
    this.sessions.set(id, session);
    void env.done.then(() => {
      if (this.sessions.get(id) === session) this.end(id, 'gone');
    });
  }

  /** A request of the session begins: its idle clock stops. */
  begin(id: string): void {
    const s = this.sessions.get(id);
    if (s === undefined) return;
    s.running += 1;
    s.calls += 1;
    if (s.idle !== undefined) this.clock.clearTimeout(s.idle);
    s.idle = undefined;
  }

  /** A request of the session ended: with none left running, its idle clock starts again. */
  finish(id: string): void {
    const s = this.sessions.get(id);
    if (s === undefined) return;
    s.running = Math.max(0, s.running - 1);
    s.lastUsed = this.clock.now();
    if (s.running > 0) return;
    s.idle = this.clock.setTimeout(() => {
      this.end(id, 'idle');
    }, this.limits.idleTimeoutMs);
  }

  /** Ends a session: forgotten at once (its id is then unknown), its environment stopped. */
  end(id: string, why: keyof SessionTable['ended']): void {
    const s = this.sessions.get(id);
    if (s === undefined) return;
    this.sessions.delete(id);
    this.ended[why] += 1;
    if (s.idle !== undefined) this.clock.clearTimeout(s.idle);
    this.clock.clearTimeout(s.life);
    void s.env.stop();
  }

  get size(): number {
    return this.sessions.size;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  list(): SessionView[] {
    const iso = (ms: number): string => new Date(ms).toISOString();
    return [...this.sessions.values()].map((s) => {
      const life = s.startedAt + this.limits.maxLifetimeMs;
      const idle = s.running > 0 ? life : s.lastUsed + this.limits.idleTimeoutMs;
      return {
        id: s.id,
        startedAt: iso(s.startedAt),
        lastUsedAt: iso(s.lastUsed),
        calls: s.calls,
        running: s.running,
        endsAt: iso(Math.min(life, idle)),
      };
    });
  }

  /** Every session ended (the service shuts down). */
  clear(): void {
    for (const id of [...this.sessions.keys()]) this.end(id, 'deleted');
  }
}

/** AgentCore's answer to a request of a session that is not there (the MCP specification's 404). */
export function sessionNotFound(id: string): {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  return {
    statusCode: 404,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32001,
        message: `Session not found: ${id.slice(0, 64)} (it ended or never began); start a new session with initialize`,
      },
    }),
  };
}
