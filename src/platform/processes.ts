/**
 * Processes as Linux shows them: trees and process groups read from /proc, signals to every
 * member, and the wait until they are gone. One layer for the runtime (a server's process group)
 * and the local Lambda service (an environment's processes: freeze, thaw, kill, memory).
 *
 * /proc files are read synchronously on purpose: they are a few bytes the kernel writes on demand
 * (no disk), read on every invocation's path (freeze, memory), where a thread-pool round trip per
 * open, stat, read and close costs more than the read itself.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a wait for processes to be gone looks again. */
const GONE_POLL_MS = 5;
const PAGE_SIZE = 4096;

/** A kernel pseudo-file's text (/proc, cgroup), or undefined when it is gone. */
export function readPseudoFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/**
 * A kernel pseudo-file read again and again (a cgroup's memory figures, read on every
 * invocation): opened once, then each read is one pread at offset 0 (the kernel makes the text
 * anew), where readFileSync pays an open, a stat and a close each time (a tenth of the cost).
 */
export class PseudoFile {
  private fd: number | undefined;
  private buffer = Buffer.allocUnsafe(256);

  constructor(readonly file: string) {}

  /** The file's text now, or undefined when it is gone (or was never there). */
  read(): string | undefined {
    try {
      this.fd ??= openSync(this.file, 'r');
      for (;;) {
        const n = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
        if (n < this.buffer.length) return this.buffer.toString('latin1', 0, n);
        this.buffer = Buffer.allocUnsafe(this.buffer.length * 2); // more than fitted: read it whole
      }
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    this.fd = undefined;
  }
}

/** The fields of /proc/<pid>/stat after `(comm)` (state, ppid, pgrp, …), or undefined when gone. */
function statFields(pid: number | string): string[] | undefined {
  const stat = readPseudoFile(`/proc/${pid}/stat`);
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Process state letter (R, S, D, T, Z, …), or undefined when the process is gone. */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/** Whether a state letter is a process that still runs (not gone, not a zombie). */
const running = (state: string | undefined): boolean => state !== undefined && state !== 'Z' && state !== 'X';

/** Children of a process: every thread's `children` file. */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    const text = readPseudoFile(`/proc/${pid}/task/${tid}/children`) ?? ''; // '' once the thread ended
    for (const p of text.split(' ')) if (p.trim() !== '') out.push(Number(p));
  }
  return out;
}

/** A process and all its descendants, parents before children. */
export function processTree(root: number): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  let level = [root];
  while (level.length > 0) {
    const next: number[] = [];
    for (const pid of level) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      order.push(pid);
      next.push(...childrenOf(pid));
    }
    level = next;
  }
  return order;
}

/** Running (not zombie) members of a process group; empty where /proc cannot be read. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const fields = statFields(entry);
    if (fields !== undefined && Number(fields[2]) === pgid && running(fields[0])) out.push(Number(entry));
  }
  return out;
}

/** Resident memory of processes (bytes), from /proc/<pid>/statm. */
export function residentBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const statm = readPseudoFile(`/proc/${pid}/statm`); // undefined: gone
    if (statm !== undefined) total += Number(statm.split(' ')[1] ?? 0) * PAGE_SIZE;
  }
  return total;
}

/**
 * Whether a process of this id exists (one of another user counts, as does a zombie): the owner
 * test of a lock or claim file, where the id was written by a process that may be gone.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends a signal; false when the process (or group, for a negative pid) is gone. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** A signal to a whole process group (every process a server started in it). */
export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  return signal(-pgid, sig);
}

/**
 * Sends `sig` to every process `list()` names, again until no new one shows up (a process that
 * forks while we signal its parent is caught on the next round). Returns every pid signalled.
 * `before` hears of each round's pids before they are signalled (a freeze tells its guardian
 * first, so no process is ever stopped without the guardian knowing).
 */
export async function signalAll(
  list: () => number[] | Promise<number[]>,
  sig: NodeJS.Signals,
  { rounds = 5, before }: { rounds?: number; before?: (pids: readonly number[]) => void } = {},
): Promise<number[]> {
  const done = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    const fresh = (await list()).filter((pid) => !done.has(pid));
    if (fresh.length === 0) break;
    before?.(fresh);
    for (const pid of fresh) {
      done.add(pid);
      signal(pid, sig);
    }
  }
  return [...done];
}

/** SIGCONT to each pid (after a freeze; SIGKILL reaches stopped processes without it). */
export function continueAll(pids: readonly number[]): void {
  for (const pid of pids) signal(pid, 'SIGCONT');
}

/**
 * Waits until `alive()` is empty, at most `timeoutMs`; true when it became empty. What a kill does
 * not wait for: a process killed while it frees a lot of memory, or a group leader's children,
 * are gone a moment after the signal (one in uninterruptible sleep when its I/O ends).
 */
async function waitUntilNone(alive: () => readonly number[], timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (alive().length === 0) return true;
    if (Date.now() >= until) return false;
    await sleep(GONE_POLL_MS);
  }
}

/** Waits until none of `pids` is running (gone or a zombie), at most `timeoutMs`. */
export function waitGone(pids: readonly number[], timeoutMs = 2_000): Promise<boolean> {
  let left = [...pids];
  return waitUntilNone(() => (left = left.filter((pid) => running(processState(pid)))), timeoutMs);
}

/** Waits until no running process of the group `pgid` is left (zombies count as gone), at most `timeoutMs`. */
export function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  // ESRCH: no process of the group exists, zombies included.
  return waitUntilNone(() => (signal(-pgid, 0) ? groupMembers(pgid) : []), timeoutMs);
}
