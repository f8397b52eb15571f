/**
 * Each local environment's own /tmp, as every Lambda execution environment has its own.
 *
 * In the sandbox (`--sandbox`, sandbox.ts) an environment's /tmp is a tmpfs of its own mount
 * namespace, gone with it. Elsewhere the machine's /tmp is shared, so an environment gets a folder
 * of its own instead: made when it starts, removed with everything in it when it ends (stopped,
 * reclaimed, killed, crashed). It is the environment's `TMPDIR` (the runtime puts the server's HOME
 * and caches under it, as under Lambda's /tmp), and the configured values that name Lambda's /tmp
 * — an `env:` value, an argument (or the path of an `--option=/tmp/…`), the `cwd:` — are rewritten
 * to it in the launch spec that environment reads. A value under a folder of the machine's /tmp
 * that exists when the environment starts (`/tmp/my-checkout/…`, a test's temporary folder) is
 * a folder of the developer's, not Lambda's /tmp: it is left as it is, and shared.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LaunchSpec } from '../../config/model.js';
import { FUNCTION_ENV } from '../../contract/function-env.js';
import type { WorkerLaunch } from './environment.js';

/** Lambda's writable folder, as configured values name it. */
export const LAMBDA_TMP = '/tmp';

/** The prefix of the environments' folders: the dev process's pid tells whose they are. */
const PREFIX = 'mcp-fleet-env-';

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Whether a value names Lambda's /tmp or a path under it. */
function underTmp(value: string): boolean {
  const v = path.posix.normalize(value);
  return v === LAMBDA_TMP || v.startsWith(`${LAMBDA_TMP}/`);
}

/**
 * `value` with Lambda's /tmp replaced by `tmp`, or undefined when it does not name Lambda's /tmp:
 * not /tmp or under it, or under a folder of the machine's /tmp that exists (`hostDir`).
 */
export function inOwnTmp(
  value: string,
  tmp: string,
  hostDir: (p: string) => boolean = isDir,
): string | undefined {
  if (!underTmp(value)) return undefined;
  const rest = path.posix.normalize(value).slice(LAMBDA_TMP.length + 1);
  const first = rest.split('/')[0] ?? '';
  if (first !== '' && hostDir(path.posix.join(LAMBDA_TMP, first))) return undefined;
  const own = path.join(tmp, rest);
  // A trailing slash (a folder, to some servers) is kept.
  return value.endsWith('/') && !own.endsWith('/') ? `${own}/` : own;
}

/** The value of an `--name=VALUE` argument, and what comes before it. */
const OPTION = /^(-{1,2}[^=\s]+=)(.*)$/;

/** An argument with Lambda's /tmp replaced: the whole argument, or the value of `--name=/tmp/…`. */
function argInOwnTmp(arg: string, tmp: string, hostDir: (p: string) => boolean): string | undefined {
  const m = OPTION.exec(arg);
  if (m === null) return inOwnTmp(arg, tmp, hostDir);
  const value = inOwnTmp(m[2] ?? '', tmp, hostDir);
  return value === undefined ? undefined : `${m[1] ?? ''}${value}`;
}

const argUnderTmp = (arg: string): boolean => underTmp(OPTION.exec(arg)?.[2] ?? arg);

/** What of a launch spec names Lambda's /tmp: `env NAME`, `args[i]`, `cwd`, each with its value. */
export interface TmpValue {
  where: string;
  value: string;
  /** Its place in the environment's folder; undefined: a folder of the machine's, left shared. */
  own: string | undefined;
}

/** The values of a launch spec under /tmp, and where each goes in an environment's folder `tmp`. */
export function tmpValues(
  spec: Pick<LaunchSpec, 'env' | 'args'> & { cwd?: string | undefined },
  tmp: string,
  hostDir: (p: string) => boolean = isDir,
): TmpValue[] {
  const found: TmpValue[] = [];
  for (const [name, value] of Object.entries(spec.env)) {
    if (underTmp(value)) found.push({ where: `env ${name}`, value, own: inOwnTmp(value, tmp, hostDir) });
  }
  spec.args.forEach((arg, i) => {
    if (argUnderTmp(arg))
      found.push({ where: `args[${i}]`, value: arg, own: argInOwnTmp(arg, tmp, hostDir) });
  });
  if (spec.cwd !== undefined && underTmp(spec.cwd))
    found.push({ where: 'cwd', value: spec.cwd, own: inOwnTmp(spec.cwd, tmp, hostDir) });
  return found;
}

/** A launch spec as an environment whose /tmp is the folder `tmp` reads it. */
export function launchInOwnTmp(
  spec: LaunchSpec,
  tmp: string,
  hostDir: (p: string) => boolean = isDir,
): LaunchSpec {
  const env = Object.fromEntries(
    Object.entries(spec.env).map(([k, v]) => [k, inOwnTmp(v, tmp, hostDir) ?? v]),
  );
  const args = spec.args.map((a) => argInOwnTmp(a, tmp, hostDir) ?? a);
  const out: LaunchSpec = { ...spec, env, args };
  if (spec.cwd !== undefined) out.cwd = inOwnTmp(spec.cwd, tmp, hostDir) ?? spec.cwd;
  return out;
}

/** An environment's own /tmp: the folder standing for it, and the launch that uses it. */
export interface OwnTmp {
  /** The environment's /tmp on this machine (its TMPDIR). */
  dir: string;
  launch: WorkerLaunch;
}

/**
 * A folder of its own for one environment (removed by the launch's `dispose`, after whatever
 * the launch disposed of before), its TMPDIR, and the launch spec rewritten into it: the
 * environment reads its own copy (MCP_FLEET_LAUNCH_FILE), beside that folder.
 */
export function ownTmp(launch: WorkerLaunch, base: string = os.tmpdir()): OwnTmp {
  const root = mkdtempSync(path.join(base, `${PREFIX}${process.pid}-`));
  const dir = path.join(root, 'tmp');
  mkdirSync(dir, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...launch.env, TMPDIR: dir };
  const file = launch.env[FUNCTION_ENV.launchFile];
  if (file !== undefined && file !== '') {
    const spec = readSpec(file);
    if (spec !== undefined) {
      const own = launchInOwnTmp(spec, dir);
      // Folders of a staged server are relative to its launch file: they stay where they are.
      if (spec.path !== undefined) own.path = spec.path.map((p) => path.resolve(path.dirname(file), p));
      const copy = path.join(root, 'launch.json');
      writeFileSync(copy, `${JSON.stringify(own, null, 2)}\n`);
      env[FUNCTION_ENV.launchFile] = copy;
    }
  }
  const before = launch.dispose;
  return {
    dir,
    launch: {
      ...launch,
      env,
      dispose: async () => {
        await before?.().catch(() => undefined);
        await rm(root, { recursive: true, force: true });
      },
    },
  };
}

/**
 * How far behind the real time a file's times may be: the kernel stamps them from its coarse
 * clock (a scheduler tick, up to 10 ms), while the call starts come from the precise one.
 */
const FILE_TIME_SLACK_MS = 10;

/** Call starts kept per environment (the oldest are forgotten past it). */
export const CALL_STARTS_KEPT = 100_000;

/** How many of `starts` (ascending, epoch ms) are at or before `t`. */
function startsBy(starts: readonly number[], t: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((starts[mid] ?? Infinity) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The files of an environment's /tmp (relative paths) that a call read after an earlier call
 * last wrote them: a call began between the file's last write and its last read. What a server
 * left for a later call, found from the files' times and the environment's call starts
 * (`starts`, ascending, epoch ms): with `relatime` (Linux's default) a read after a write moves
 * the access time past the modification time; under `noatime` nothing is found. The files' times
 * come from the kernel's coarse clock, so a start up to FILE_TIME_SLACK_MS after a read's stamp
 * counts. The runtime's
 * own folders (HOME and caches, under `mcp-fleet/`) are left out. At most `limit` entries are
 * looked at.
 */
export function filesReadAfterWrite(dir: string, starts: readonly number[], limit = 5000): string[] {
  const found: string[] = [];
  if (starts.length < 2) return found;
  let seen = 0;
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(path.join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      if (++seen > limit) return;
      const r = rel === '' ? name : path.join(rel, name);
      if (rel === '' && name === 'mcp-fleet') continue;
      let st;
      try {
        st = statSync(path.join(dir, r));
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(r);
      else if (
        st.isFile() &&
        st.atimeMs > st.mtimeMs &&
        startsBy(starts, st.atimeMs + FILE_TIME_SLACK_MS) > startsBy(starts, st.mtimeMs)
      )
        found.push(r);
    }
  };
  walk('');
  return found.sort();
}

function readSpec(file: string): LaunchSpec | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LaunchSpec;
  } catch {
    return undefined; // the environment reports it, reading its launch file itself
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes the folders of environments whose dev process died without removing them (killed
 * with SIGKILL, a machine that lost power); the folders of running processes are left alone.
 * Returns how many it removed.
 */
export function sweepOrphanTmp(base: string = os.tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    try {
      rmSync(path.join(base, name), { recursive: true, force: true });
      removed += 1;
    } catch {
      // not ours to remove (another user's): left
    }
  }
  return removed;
}

/** A function as the notes below see it. */
interface NotedFunction {
  server: { id: string };
  launchSpecFile: string;
}

/**
 * What `mcp-fleet dev` says at its start about /tmp: which isolation the environments have, and
 * each configured value under /tmp that stays shared (a folder of the machine's).
 */
export function tmpIsolationNotes(
  functions: readonly NotedFunction[],
  sandbox?: { inside: readonly string[] },
  hostDir: (p: string) => boolean = isDir,
): string[] {
  const inside = new Set(sandbox?.inside ?? []);
  const outside = functions.filter((f) => !inside.has(f.server.id));
  const mount = 'own /tmp each (a tmpfs in its mount namespace, as in Lambda)';
  const folder =
    'own TMPDIR each, /tmp in env, args and cwd moved into it (no sandbox: a server that writes to a literal path outside /tmp is not isolated)';
  const lines: string[] = [];
  if (inside.size === 0) lines.push(`  environments: ${folder}`);
  else if (outside.length === 0) lines.push(`  environments: ${mount}`);
  else
    lines.push(
      `  environments: ${mount}: ${[...inside].join(', ')}; ${folder}: ${outside.map((f) => f.server.id).join(', ')}`,
    );
  for (const fn of outside) {
    const spec = readSpec(fn.launchSpecFile);
    if (spec === undefined) continue;
    for (const v of tmpValues(spec, '/', hostDir)) {
      if (v.own !== undefined) continue;
      lines.push(
        `  ${fn.server.id}: ${v.where} ${v.value} is in a folder of this machine's /tmp: shared by every environment (Lambda's /tmp would not have it)`,
      );
    }
  }
  return lines;
}
