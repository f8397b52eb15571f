import path from 'node:path';
import { Listr, type ListrTask } from 'listr2';
import type { FleetConfig } from '../../config/index.js';
import { buildFleet, type FleetBuild, type Phase } from '../../build/build.js';
import { discoverLocally } from '../../local/lambda/discovery.js';
import type { LockUpdate } from '../../build/lock.js';
import { FleetError } from '../../contract/errors.js';
import { CliError, EXIT } from '../exit.js';
import { loadValidConfig } from '../load-config.js';

export interface BuildCommandOptions {
  config: string;
  out?: string;
  only?: string[];
  concurrency?: string;
  force?: boolean;
  /** Remove the lock's pins of servers no longer in the config. */
  pruneLock?: boolean;
  json?: boolean;
  /** Plain progress lines instead of the live task list (CI logs). */
  plain?: boolean;
  /** No progress display at all. */
  silent?: boolean;
}

function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`--concurrency ${value}: use a whole number, 1 or more`, EXIT.USAGE);
  return n;
}

/** A server's line in the task list: its title, the installer's last line under it, its end. */
interface TaskHandle {
  title: (t: string) => void;
  output: (l: string) => void;
  settle: (failed: boolean) => void;
}

/**
 * The build's live task list (listr2): one task per server, its phase as the title and the
 * installer's last output line under it. Non-interactive terminals get one line per change.
 */
class BuildProgress {
  private readonly handles = new Map<string, TaskHandle>();
  private readonly ready = new Map<string, Promise<void>>();
  private readonly upToDate = new Set<string>();
  private readonly shown: Promise<unknown>;
  private readonly plain: boolean;

  constructor(
    private readonly ids: readonly string[],
    opts: Pick<BuildCommandOptions, 'plain' | 'silent'>,
  ) {
    const waiting = new Map<string, () => void>();
    for (const id of ids) this.ready.set(id, new Promise<void>((resolve) => waiting.set(id, resolve)));
    const tasks: ListrTask[] = ids.map((id) => ({
      title: `${id}: queued`,
      task: (_ctx, task): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          this.handles.set(id, {
            title: (t) => {
              task.title = `${id}: ${t}`;
            },
            output: (l) => {
              task.output = l.length > 160 ? `${l.slice(0, 157)}...` : l;
            },
            settle: (failed) => {
              if (failed) reject(new Error(`${id}: failed`));
              else resolve();
            },
          });
          waiting.get(id)?.();
        }),
    }));
    this.plain = opts.plain === true || !process.stdout.isTTY;
    const list = new Listr(tasks, {
      concurrent: true,
      exitOnError: false,
      collectErrors: false,
      renderer: opts.silent === true ? 'silent' : this.plain ? 'simple' : 'default',
      fallbackRenderer: 'simple',
      rendererOptions: { collapseErrors: false },
    });
    this.shown = list.run().catch(() => undefined);
  }

  /** The build's progress events, shown on the server's task. */
  readonly onProgress = (id: string, event: { phase?: Phase; line?: string }): void => {
    void this.ready.get(id)?.then(() => {
      const h = this.handles.get(id);
      if (!h) return;
      if (event.phase === 'up to date') this.upToDate.add(id);
      if (event.phase === 'done') {
        h.title(this.upToDate.has(id) ? 'up to date' : 'built');
        h.settle(false);
      } else if (event.phase === 'failed') h.settle(true);
      else if (event.phase !== undefined) h.title(event.phase);
      if (event.line !== undefined && !this.plain) h.output(event.line);
    });
  };

  /** Tasks never reported (the build stopped early) end as failed, so the list closes. */
  async close(): Promise<void> {
    for (const id of this.ids) {
      await this.ready.get(id);
      this.handles.get(id)?.settle(true);
    }
    await this.shown;
  }
}

/** Runs the build (the servers `only` names, else every enabled one) under its task list. */
export async function runBuild(
  config: FleetConfig,
  opts: Omit<BuildCommandOptions, 'config' | 'json'>,
): Promise<FleetBuild> {
  const concurrency = parseConcurrency(opts.concurrency);
  const ids = config.servers
    .filter(
      (s) => s.enabled && (opts.only === undefined || opts.only.length === 0 || opts.only.includes(s.id)),
    )
    .map((s) => s.id);
  const progress = new BuildProgress(ids, opts);
  try {
    return await buildFleet(config, {
      ...(opts.out !== undefined ? { outDir: opts.out } : {}),
      ...(opts.only !== undefined ? { only: opts.only } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(opts.force !== undefined ? { force: opts.force } : {}),
      ...(opts.pruneLock === true ? { pruneLock: true } : {}),
      discover: discoverLocally,
      onProgress: progress.onProgress,
    });
  } finally {
    await progress.close();
  }
}

const shown = (file: string): string => path.relative(process.cwd(), file) || file;
const list = (ids: readonly string[]): string => ids.join(', ');

/**
 * One line each for what the build did to the lock beyond the pins it resolved: a new lock
 * started from the folder's default lock, pins kept of servers no longer in the config (and how to
 * remove them), pins removed by --prune-lock.
 */
export function lockLines(lock: LockUpdate, configFile: string): string[] {
  const lines: string[] = [];
  const { seed } = lock;
  if (seed?.error !== undefined) {
    lines.push(`lock: ${shown(lock.file)} is new; no pin taken from ${shown(seed.from)}: ${seed.error}`);
  } else if (seed !== undefined) {
    const taken =
      seed.taken.length > 0
        ? `took the pins of ${list(seed.taken)} from ${shown(seed.from)} (the same package, kind and architecture)`
        : `took no pin from ${shown(seed.from)}`;
    const skipped =
      seed.skipped.length > 0 ? `; ${list(seed.skipped)} resolved anew (another package there)` : '';
    lines.push(`lock: ${shown(lock.file)} is new: ${taken}${skipped}; ${shown(seed.from)} is left as it is`);
  }
  if (lock.kept.length > 0)
    lines.push(
      `lock: kept the pins of ${list(lock.kept)}, no longer in ${shown(configFile)}; remove them with mcp-fleet build --config ${shown(configFile)} --prune-lock`,
    );
  if (lock.pruned.length > 0)
    lines.push(`lock: removed the pins of ${list(lock.pruned)}, no longer in ${shown(configFile)}`);
  return lines;
}

export async function buildCommand(opts: BuildCommandOptions): Promise<number> {
  const config = await loadValidConfig(opts.config);
  let result: FleetBuild;
  try {
    result = await runBuild(config, opts.json === true ? { ...opts, silent: true } : opts);
  } catch (err) {
    if (err instanceof FleetError) throw err;
    throw new CliError((err as Error).message);
  }
  if (opts.json === true) {
    process.stdout.write(
      `${JSON.stringify(
        {
          outDir: result.outDir,
          lockFile: result.lockFile,
          lock: {
            kept: result.lock.kept,
            pruned: result.lock.pruned,
            ...(result.lock.seed !== undefined ? { seeded: result.lock.seed } : {}),
          },
          ms: Math.round(result.ms),
          servers: result.built.map((b) => ({ ...b.manifest, staged: b.staged })),
          interceptors: (result.interceptors ?? []).map((i) => ({
            point: i.point,
            functionName: i.functionName,
            dir: i.dir,
            bytes: i.bytes,
          })),
          failed: result.failed.map((f) => ({ id: f.serverId, error: f.message, output: f.output })),
        },
        null,
        2,
      )}\n`,
    );
    return result.failed.length > 0 ? EXIT.FAILURE : EXIT.OK;
  }
  const out = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  out('');
  const width = Math.max(6, ...result.built.map((b) => b.server.id.length));
  for (const b of result.built) {
    const m = b.manifest;
    out(
      `  ${b.server.id.padEnd(width)}  ${m.artifact.kind.padEnd(5)}  ${`${(m.bytes / 1048576).toFixed(1)} MB`.padStart(9)}  ${String(m.tools.count).padStart(3)} tools${m.tools.warnings.length > 0 ? `, ${m.tools.warnings.length} schema warnings` : ''}${b.staged ? '' : '  (up to date)'}`,
    );
  }
  for (const i of result.interceptors ?? []) {
    out(
      `  ${i.point} interceptor → ${i.functionName}  ${(i.bytes / 1024).toFixed(1)} KB  (${path.relative(process.cwd(), i.dir) || '.'})`,
    );
  }
  for (const f of result.failed) {
    process.stderr.write(`\nFAILED ${f.detail}\n`);
  }
  const notes = lockLines(result.lock, opts.config);
  if (notes.length > 0) out('');
  for (const line of notes) out(line);
  out(
    `\n${result.built.length} built, ${result.failed.length} failed in ${(result.ms / 1000).toFixed(1)} s → ${path.relative(process.cwd(), result.outDir) || '.'} (lock: ${path.relative(process.cwd(), result.lockFile)})`,
  );
  return result.failed.length > 0 ? EXIT.FAILURE : EXIT.OK;
}
