/**
 * How a fleet's servers changed from one config to the next (a hot reload): computed here once,
 * for what `dev` rebuilds and for what the local Lambda service replaces.
 */
import type { ServerConfig } from './model.js';

export interface ServerChanges {
  /** Enabled now, not before. */
  added: string[];
  /** Enabled before and now, run differently (or named by `alsoChanged`). */
  changed: string[];
  /** Enabled before, gone or disabled now. */
  removed: string[];
  unchanged: string[];
}

/** Whether two configs of a server run it the same way (where it is written in the file aside). */
export function sameServer(a: ServerConfig, b: ServerConfig): boolean {
  return JSON.stringify({ ...a, source: null }) === JSON.stringify({ ...b, source: null });
}

/**
 * The enabled servers of `next` against those of `before`, in `next`'s order (removed ones in
 * `before`'s). `alsoChanged` marks servers as changed for a reason outside their config (a
 * rebuilt install, a build that failed before, other launch folders).
 */
export function serverChanges(
  before: readonly ServerConfig[],
  next: readonly ServerConfig[],
  alsoChanged: (server: ServerConfig) => boolean = () => false,
): ServerChanges {
  const was = new Map(before.filter((s) => s.enabled).map((s) => [s.id, s]));
  const out: ServerChanges = { added: [], changed: [], removed: [], unchanged: [] };
  const now = next.filter((s) => s.enabled);
  for (const server of now) {
    const old = was.get(server.id);
    if (old === undefined) out.added.push(server.id);
    else if (!sameServer(old, server) || alsoChanged(server)) out.changed.push(server.id);
    else out.unchanged.push(server.id);
  }
  const kept = new Set(now.map((s) => s.id));
  out.removed = [...was.keys()].filter((id) => !kept.has(id));
  return out;
}
