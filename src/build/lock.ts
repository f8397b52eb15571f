/**
 * The lock file beside the config (its name from fleetPaths): what each server's build resolved,
 * to rebuild exactly the same. A build writes the pins it resolved and keeps every other one —
 * of servers not built this time, disabled, failed, or no longer in the config (those go only
 * with `--prune-lock`) — and writes the file atomically.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FleetPaths } from '../config/fleet-paths.js';
import type { FleetConfig, ServerConfig } from '../config/model.js';
import type { LockEntry } from './stage/index.js';

export interface LockFile {
  lockfileVersion: 1;
  servers: Record<string, LockEntry>;
}

export async function readLock(file: string): Promise<LockFile> {
  if (!existsSync(file)) return { lockfileVersion: 1, servers: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete it to resolve again`, {
      cause: err,
    });
  }
  const lock = parsed as Partial<LockFile>;
  if (lock.lockfileVersion !== 1 || typeof lock.servers !== 'object') {
    throw new Error(`${file}: not an mcp-fleet lock file of version 1; delete it to resolve again`);
  }
  return { lockfileVersion: 1, servers: lock.servers };
}

/**
 * Writes the lock with servers in id order, so that diffs are small: into a temporary file beside
 * it, then renamed over it, so an interrupted build leaves the old lock or the new one, whole.
 */
export async function writeLock(file: string, lock: LockFile): Promise<void> {
  const servers = Object.fromEntries(Object.entries(lock.servers).sort(([a], [b]) => a.localeCompare(b)));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify({ lockfileVersion: 1, servers }, null, 2)}\n`);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Whether a lock entry provably records this server's package: the same kind, the same pinned
 * spec and the same architecture (each stager checks the rest it depends on itself, e.g. the
 * Python version and constraints of a PyPI set, and resolves again when they differ).
 */
export function entryFits(entry: LockEntry | undefined, server: ServerConfig): entry is LockEntry {
  const pkg = server.package;
  return (
    entry !== undefined &&
    pkg !== undefined &&
    entry.kind === pkg.kind &&
    entry.package === pkg.spec &&
    entry.architecture === server.aws.architecture
  );
}

/** How a non-default config's new lock was started from the folder's default lock. */
export interface LockSeed {
  /** The default lock read (never written). */
  from: string;
  /** Servers whose pin was taken: the entry records their very package, kind and architecture. */
  taken: string[];
  /** Servers with an entry there of another package, kind or architecture: resolved anew. */
  skipped: string[];
  /** Why the default lock could not be read (nothing taken). */
  error?: string;
}

/**
 * The lock a build starts from: the config's own; for a non-default config that has none yet,
 * the pins of its servers that the folder's default lock (`mcp-fleet.lock.json`) holds for the
 * very same package (see {@link entryFits}) — read only, that file is the default fleet's.
 */
export async function openLock(
  paths: FleetPaths,
  fleet: FleetConfig,
): Promise<{ lock: LockFile; seed?: LockSeed }> {
  const lock = await readLock(paths.lockFile);
  if (paths.key === undefined || existsSync(paths.lockFile) || !existsSync(paths.defaultLockFile))
    return { lock };
  const seed: LockSeed = { from: paths.defaultLockFile, taken: [], skipped: [] };
  let other: LockFile;
  try {
    other = await readLock(paths.defaultLockFile);
  } catch (err) {
    return { lock, seed: { ...seed, error: (err as Error).message } };
  }
  for (const server of fleet.servers) {
    const entry = other.servers[server.id];
    if (entry === undefined) continue;
    if (entryFits(entry, server)) {
      lock.servers[server.id] = entry;
      seed.taken.push(server.id);
    } else seed.skipped.push(server.id);
  }
  return seed.taken.length + seed.skipped.length > 0 ? { lock, seed } : { lock };
}

/** What a build did to the lock file. */
export interface LockUpdate {
  file: string;
  /** Pins of servers no longer in the config, kept (`--prune-lock` removes them). */
  kept: string[];
  /** Pins of servers no longer in the config, removed (`--prune-lock`). */
  pruned: string[];
  /** A new lock of a non-default config started from the default lock. */
  seed?: LockSeed;
}

/**
 * Writes the pins this build resolved into the lock and keeps every other one. The file is read
 * again just before (a build running beside this one may have written pins meanwhile); when it is
 * still absent, `start` (the lock the build began with, seeded or empty) is the base.
 */
export async function updateLock(
  file: string,
  start: LockFile,
  resolved: ReadonlyMap<string, LockEntry>,
  fleet: FleetConfig,
  prune: boolean,
): Promise<Omit<LockUpdate, 'seed'>> {
  const lock = existsSync(file) ? await readLock(file) : start;
  for (const [id, entry] of resolved) lock.servers[id] = entry;
  const ids = new Set(fleet.servers.map((s) => s.id));
  const gone = Object.keys(lock.servers)
    .filter((id) => !ids.has(id))
    .sort();
  if (prune) lock.servers = Object.fromEntries(Object.entries(lock.servers).filter(([id]) => ids.has(id)));
  await writeLock(file, lock);
  return prune ? { file, kept: [], pruned: gone } : { file, kept: gone, pruned: [] };
}
