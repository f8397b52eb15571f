/**
 * The processes of one local Lambda environment, read from /proc, and what Lambda does to them:
 * freeze (SIGSTOP) between invocations, thaw (SIGCONT), kill, and measure their memory.
 *
 * /proc and cgroup files are read synchronously on purpose: they are a few bytes the kernel
 * writes on demand (no disk), read on every invocation's path (freeze, memory), where a
 * thread-pool round trip per open, stat, read and close costs more than the read itself.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A kernel pseudo-file's text (/proc, cgroup), or undefined when it is gone. */
export function readPseudoFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** Children of a process: every thread's `children` file (Linux). */
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
export function processTree(root: number): Promise<number[]> {
  return Promise.resolve(processTreeNow(root));
}

function processTreeNow(root: number): number[] {
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

/** Process state letter (R, S, D, T, Z, …), or undefined when the process is gone. */
export function processState(pid: number): Promise<string | undefined> {
  const stat = readPseudoFile(`/proc/${pid}/stat`);
  return Promise.resolve(stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
}

const PAGE_SIZE = 4096;

/** Resident memory of processes (bytes), from /proc/<pid>/statm. */
export function residentBytes(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = readPseudoFile(`/proc/${pid}/statm`); // undefined: gone
    if (statm !== undefined) total += Number(statm.split(' ')[1] ?? 0) * PAGE_SIZE;
  }
  return Promise.resolve(total);
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
