/**
 * The gateway's MCP sessions (AgentCore Gateway's `sessionConfiguration`), on one machine: an
 * `initialize` without a session gets a new `Mcp-Session-Id`, which the client sends with every
 * later request; the session ends `sessionTimeout` after it began (absolute, as AgentCore counts
 * it) or when the client DELETEs it. Each session keeps, per MCP-server target that keeps
 * sessions itself (an AgentCore Runtime), the target's own session id: the first request the
 * session sends that target initializes it, later ones reuse it, so one client keeps one server.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/time.js';

interface GatewaySession {
  startedAt: number;
  /** What the client said it can answer at its initialize (its `capabilities`). */
  capabilities: Record<string, unknown>;
  /** Server id → the target's session id. */
  targets: Map<string, string>;
}

/** What a request's `Mcp-Session-Id` is to the gateway. */
export type SessionCheck = 'none' | 'live' | 'unknown';

export class GatewaySessions {
  private readonly sessions = new Map<string, GatewaySession>();

  constructor(
    private readonly clock: Clock,
    /** How long a session lasts from its first initialize (ms). */
    readonly timeoutMs: number,
  ) {}

  /** A new session (an initialize without one), with the capabilities its client declared. */
  open(capabilities: Record<string, unknown> = {}): string {
    const id = randomUUID();
    this.sessions.set(id, { startedAt: this.clock.now(), capabilities, targets: new Map() });
    return id;
  }

  /** What the session's client declared it can do (empty for an unknown session). */
  capabilities(id: string): Record<string, unknown> {
    return this.sessions.get(id)?.capabilities ?? {};
  }

  /** Whether the id names a live session (one past its timeout is ended here). */
  check(id: string | undefined): SessionCheck {
    if (id === undefined || id === '') return 'none';
    const s = this.sessions.get(id);
    if (s === undefined) return 'unknown';
    if (this.clock.now() - s.startedAt >= this.timeoutMs) {
      this.sessions.delete(id);
      return 'unknown';
    }
    return 'live';
  }

  /** The target's session this gateway session keeps, if any. */
  target(id: string, serverId: string): string | undefined {
    return this.sessions.get(id)?.targets.get(serverId);
  }

  /** When the session ends (epoch ms; 0 for an unknown one). */
  endsAt(id: string): number {
    const s = this.sessions.get(id);
    return s === undefined ? 0 : s.startedAt + this.timeoutMs;
  }

  /** The target sessions it keeps now: server id → the target's session id. */
  targets(id: string): ReadonlyMap<string, string> {
    return this.sessions.get(id)?.targets ?? new Map<string, string>();
  }

  keep(id: string, serverId: string, targetSession: string): void {
    this.sessions.get(id)?.targets.set(serverId, targetSession);
  }

  forget(id: string, serverId: string): void {
    this.sessions.get(id)?.targets.delete(serverId);
  }

  /** Ends a session (the client's DELETE); answers the target sessions it kept. */
  close(id: string): Map<string, string> {
    const s = this.sessions.get(id);
    this.sessions.delete(id);
    return s?.targets ?? new Map<string, string>();
  }

  get size(): number {
    return this.sessions.size;
  }
}
