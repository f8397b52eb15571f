/**
 * Holding a local environment to its function's `memory`, as Lambda does, and measuring what it
 * used (Lambda's "Max Memory Used").
 *
 * - `cgroup`: the environment runs in a memory cgroup of its own (v1 `memory` controller, or v2
 *   `memory.max`), limited to the function's memory: the kernel enforces it exactly as in Lambda
 *   (page cache included, reclaimed first; the OOM killer acts at the limit), and the cgroup's
 *   high-water mark is the figure Lambda reports. Needs a writable cgroup hierarchy (root).
 * - `proc`: the resident memory of the environment's process tree is sampled while it works; over
 *   the limit, the environment is killed. A close approximation that works anywhere: shared pages
 *   count once per process, and a spike shorter than the sampling interval can go unseen.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PseudoFile, residentBytes } from '../../platform/processes.js';

export type MemoryMode = 'auto' | 'cgroup' | 'proc' | 'off';

export interface MemorySample {
  /** Bytes in use now. */
  used: number;
  /** The most this environment has used (bytes). */
  peak: number;
}

/** One environment's memory limit and meter. */
export interface MemoryGuard {
  readonly kind: 'cgroup-v1' | 'cgroup-v2' | 'proc' | 'off';
  readonly limitBytes: number;
  /** Puts a process (just started, before it starts others) under the limit. */
  adopt(pid: number): Promise<void>;
  /** Every process of the environment, when the guard knows them (a cgroup does). */
  members(): Promise<number[] | undefined>;
  /** Measures; `pids` is the environment's process tree (used where there is no cgroup). */
  sample(pids: () => Promise<number[]>): Promise<MemorySample>;
  /** True when the environment went over its limit (the kernel's OOM killer acted, or a sample). */
  exceeded(): Promise<boolean>;
  dispose(): Promise<void>;
}

interface CgroupRoot {
  version: 1 | 2;
  /** Where mcp-fleet's environments get their cgroups. */
  dir: string;
}

let rootProbe: Promise<CgroupRoot | undefined> | undefined;

/** Finds a writable memory cgroup hierarchy (once per process). */
function cgroupRoot(): Promise<CgroupRoot | undefined> {
  rootProbe ??= probeCgroupRoot();
  return rootProbe;
}

async function probeCgroupRoot(): Promise<CgroupRoot | undefined> {
  let mounts: string;
  try {
    mounts = await readFile('/proc/self/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const lines = mounts.split('\n').map((l) => l.split(' '));
  const v1 = lines.find((f) => f[2] === 'cgroup' && (f[3] ?? '').split(',').includes('memory'));
  const candidates: CgroupRoot[] = [];
  if (v1?.[1] !== undefined) candidates.push({ version: 1, dir: path.join(v1[1], 'mcp-fleet') });
  const v2 = lines.find((f) => f[2] === 'cgroup2');
  if (v2?.[1] !== undefined) candidates.push({ version: 2, dir: path.join(v2[1], 'mcp-fleet') });
  for (const c of candidates) {
    try {
      if (c.version === 2) {
        const top = path.dirname(c.dir);
        const controllers = await readFile(path.join(top, 'cgroup.controllers'), 'utf8');
        if (!controllers.split(/\s+/).includes('memory')) continue;
        await writeFile(path.join(top, 'cgroup.subtree_control'), '+memory');
        await mkdir(c.dir, { recursive: true });
        await writeFile(path.join(c.dir, 'cgroup.subtree_control'), '+memory');
      } else {
        await mkdir(c.dir, { recursive: true });
      }
      return c;
    } catch {
      // not writable here (not root, or a read-only hierarchy): try the next one
    }
  }
  return undefined;
}

class CgroupGuard implements MemoryGuard {
  readonly kind: 'cgroup-v1' | 'cgroup-v2';
  private oomAtStart = 0;
  private peak = 0;
  /** The cgroup's files read on every invocation, each kept open. */
  private readonly files = new Map<string, PseudoFile>();
  private disposed = false;

  constructor(
    private readonly root: CgroupRoot,
    private readonly dir: string,
    readonly limitBytes: number,
  ) {
    this.kind = root.version === 1 ? 'cgroup-v1' : 'cgroup-v2';
  }

  static async create(root: CgroupRoot, name: string, limitBytes: number): Promise<CgroupGuard> {
    const dir = path.join(root.dir, name);
    await mkdir(dir, { recursive: true });
    const guard = new CgroupGuard(root, dir, limitBytes);
    if (root.version === 1) {
      await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      // With swap accounting, memory + swap is held to the same limit (Lambda has no swap).
      const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) await writeFile(memsw, String(limitBytes));
    } else {
      await writeFile(path.join(dir, 'memory.max'), String(limitBytes));
      const swap = path.join(dir, 'memory.swap.max');
      if (existsSync(swap)) await writeFile(swap, '0');
    }
    guard.oomAtStart = guard.oomKills();
    return guard;
  }

  async adopt(pid: number): Promise<void> {
    await writeFile(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  members(): Promise<number[]> {
    const text = this.read('cgroup.procs') ?? '';
    return Promise.resolve(
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number),
    );
  }

  sample(): Promise<MemorySample> {
    const v1 = this.root.version === 1;
    const used = this.readNumber(v1 ? 'memory.usage_in_bytes' : 'memory.current');
    // memory.peak: kernels from 5.19; before, the sampled usage.
    const peak = this.readNumber(v1 ? 'memory.max_usage_in_bytes' : 'memory.peak') ?? used;
    if (used === undefined) return Promise.reject(new Error(`the cgroup ${this.dir} is gone`));
    this.peak = Math.max(this.peak, peak ?? used, used);
    return Promise.resolve({ used, peak: this.peak });
  }

  exceeded(): Promise<boolean> {
    return Promise.resolve(this.oomKills() > this.oomAtStart);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const file of this.files.values()) file.close();
    this.files.clear();
    // Empty once its processes are gone (reaped); a few tries for the last exits to be accounted.
    for (let i = 0; i < 20; i++) {
      try {
        await rmdir(this.dir);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  private oomKills(): number {
    const text = this.read(this.root.version === 1 ? 'memory.oom_control' : 'memory.events');
    const m = /^oom_kill (\d+)$/m.exec(text ?? '');
    return m ? Number(m[1]) : 0;
  }

  /** One of the cgroup's files (read synchronously: see processes.ts), undefined when absent. */
  private read(file: string): string | undefined {
    if (this.disposed) return undefined;
    let open = this.files.get(file);
    if (open === undefined) {
      open = new PseudoFile(path.join(this.dir, file));
      this.files.set(file, open);
    }
    return open.read();
  }

  private readNumber(file: string): number | undefined {
    const text = this.read(file);
    return text === undefined ? undefined : Number(text.trim());
  }
}

class ProcGuard implements MemoryGuard {
  private peak = 0;
  private over = false;

  /** `enforce` false: measures only (mode `off`). */
  constructor(
    readonly limitBytes: number,
    private readonly enforce: boolean,
  ) {}

  get kind(): 'proc' | 'off' {
    return this.enforce ? 'proc' : 'off';
  }

  adopt(): Promise<void> {
    return Promise.resolve();
  }

  members(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  async sample(pids: () => Promise<number[]>): Promise<MemorySample> {
    const used = residentBytes(await pids());
    this.peak = Math.max(this.peak, used);
    if (this.enforce && used > this.limitBytes) this.over = true;
    return { used, peak: this.peak };
  }

  exceeded(): Promise<boolean> {
    return Promise.resolve(this.over);
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

/** A guard for one environment: a cgroup where one can be made (mode auto or cgroup), else /proc. */
export async function memoryGuard(mode: MemoryMode, name: string, limitMb: number): Promise<MemoryGuard> {
  const limitBytes = limitMb * 1024 * 1024;
  if (mode === 'off') return new ProcGuard(limitBytes, false);
  if (mode === 'auto' || mode === 'cgroup') {
    const root = await cgroupRoot();
    if (root) {
      try {
        return await CgroupGuard.create(root, name, limitBytes);
      } catch (err) {
        if (mode === 'cgroup') throw err;
      }
    } else if (mode === 'cgroup') {
      throw new Error(
        'memory limits by cgroup need a writable cgroup hierarchy with the memory controller (run as root), or use the /proc sampler',
      );
    }
  }
  return new ProcGuard(limitBytes, true);
}

/** Which kind of guard `auto` gives on this machine. */
export async function memoryGuardKind(): Promise<'cgroup-v1' | 'cgroup-v2' | 'proc'> {
  const root = await cgroupRoot();
  return root === undefined ? 'proc' : root.version === 1 ? 'cgroup-v1' : 'cgroup-v2';
}
