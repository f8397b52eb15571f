/**
 * The processes of one local Lambda environment, read from /proc, and what Lambda does to them:
 * freeze (SIGSTOP) between invocations, thaw (SIGCONT), kill, and measure their memory.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Children of a process: every thread's `children` file (Linux). */
async function childrenOf(pid: number): Promise<number[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    try {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'latin1');
      for (const p of text.split(' ')) if (p.trim() !== '') out.push(Number(p));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** A process and all its descendants, parents before children. */
export async function processTree(root: number): Promise<number[]> {
  const seen = new Set<number>();
  const order: number[] = [];
  let level = [root];
  while (level.length > 0) {
    const next: number[] = [];
    for (const pid of level) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      order.push(pid);
      next.push(...(await childrenOf(pid)));
    }
    level = next;
  }
  return order;
}

/** Process state letter (R, S, D, T, Z, …), or undefined when the process is gone. */
export async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

const PAGE_SIZE = 4096;

/** Resident memory of processes (bytes), from /proc/<pid>/statm. */
export async function residentBytes(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      const statm = await readFile(`/proc/${pid}/statm`, 'latin1');
      total += Number(statm.split(' ')[1] ?? 0) * PAGE_SIZE;
    } catch {
      // gone
    }
  }
  return total;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends `sig` to every process `list()` names, again until no new one shows up (a process that
 * forks while we signal its parent is caught on the next round). Returns every pid signalled.
 */
export async function signalAll(
  list: () => Promise<number[]>,
  sig: NodeJS.Signals,
  rounds = 5,
): Promise<number[]> {
  const done = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    const fresh = (await list()).filter((pid) => !done.has(pid));
    if (fresh.length === 0) break;
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

/** Waits until none of `pids` is running (gone or a zombie), at most `timeoutMs`. */
export async function waitGone(pids: readonly number[], timeoutMs = 2_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  let left = [...pids];
  for (;;) {
    const states = await Promise.all(left.map((pid) => processState(pid)));
    left = left.filter((_, i) => {
      const st = states[i];
      return st !== undefined && st !== 'Z' && st !== 'X';
    });
    if (left.length === 0) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}
