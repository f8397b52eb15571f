import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LockEntry } from './stage/index.js';

/** The lock file beside the config: what each server's build resolved, to rebuild the same. */
export const LOCK_FILE = 'mcp-fleet.lock.json';

export interface LockFile {
  lockfileVersion: 1;
  servers: Record<string, LockEntry>;
}

export function lockPath(configFile: string): string {
  return path.join(path.dirname(configFile), LOCK_FILE);
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

/** Writes the lock with servers in id order, so that diffs are small. */
export async function writeLock(file: string, lock: LockFile): Promise<void> {
  const servers = Object.fromEntries(Object.entries(lock.servers).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(file, `${JSON.stringify({ lockfileVersion: 1, servers }, null, 2)}\n`);
}
