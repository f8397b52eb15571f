import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toLaunchSpec, type ServerConfig } from '../config/model.js';
import type { InvokeMessage, ShutdownMessage, WorkerMessage } from './worker.js';

/** The package root (this file is src/local or dist/local). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The environment process and the handler bundle it loads: the built ones, as deployed. */
export const WORKER_FILE = path.join(ROOT, 'dist', 'local', 'worker.js');
export const HANDLER_BUNDLE = path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs');

/** Lambda's init phase limit. */
const INIT_TIMEOUT_MS = 10_000;
/** A graceful stop gets this long before the process groups are killed. */
const STOP_GRACE_MS = 5_000;

export interface LocalLambdaOptions {
  /** Where launch specs and logs go (e.g. `.mcp-fleet/dev`). */
  workDir: string;
  /** Working directory of the environments (the config file's folder). */
  cwd: string;
  /** Environments per function when `aws.reservedConcurrency` is not set. */
  concurrency?: number;
  /** Calls waiting for an environment, per function, before Lambda's throttling error. */
  queueLimit?: number;
  /** Idle environments are stopped after this long. */
  idleMs?: number;
  /** The environment the workers inherit (default process.env). */
  env?: NodeJS.ProcessEnv;
  region?: string;
  /**
   * Launch files of staged servers by server id (`mcp-fleet build`'s host installs): those
   * functions run that launch spec instead of the config's command on PATH.
   */
  launchFiles?: Readonly<Record<string, string>>;
  /**
   * By server id: folders (absolute) put in front of PATH, where `mcp-fleet build` installed the
   * server on this machine. The launch spec still follows the config.
   */
  launchPaths?: Readonly<Record<string, readonly string[]>>;
  /** Called after every invocation (for the dev log and status). */
  onInvoke?: (record: InvocationRecord) => void;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_QUEUE_LIMIT = 64;
export const DEFAULT_IDLE_MS = 10 * 60_000;

export interface InvokeOptions {
  /** The decoded client context (AgentCore puts the tool name in `custom`). */
  clientContext?: unknown;
  invocationType?: 'RequestResponse' | 'Event' | 'DryRun';
}

/** What the Invoke API answers. */
export interface InvokeOutcome {
  requestId: string;
  /** Set when the function failed: Lambda's X-Amz-Function-Error. */
  functionError?: 'Unhandled' | 'Handled';
  payload: unknown;
  coldStart: boolean;
  durationMs: number;
}

export interface InvocationRecord extends InvokeOutcome {
  functionName: string;
  serverId: string;
  toolName?: string;
}

/** Lambda's throttling error (HTTP 429). */
export class ThrottledError extends Error {
  readonly errorType = 'TooManyRequestsException';
  constructor(functionName: string, limit: number) {
    super(`Rate Exceeded. ${functionName} is at its concurrency limit (${limit}) and its queue is full.`);
    this.name = 'TooManyRequestsException';
  }
}

/** Lambda's unknown-function error (HTTP 404). */
export class FunctionNotFoundError extends Error {
  readonly errorType = 'ResourceNotFoundException';
  constructor(name: string) {
    super(`Function not found: ${name}`);
    this.name = 'ResourceNotFoundException';
  }
}

type EnvironmentState = 'starting' | 'idle' | 'busy' | 'stopped';

/** One local Lambda environment: a worker process with the handler and its warm server. */
class Environment {
  state: EnvironmentState = 'starting';
  lastUsed = Date.now();
  serverPid: number | undefined;
  startError: string | undefined;
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private pending?: { requestId: string; resolve: (m: WorkerMessage) => void };
  private exited = false;
  readonly done: Promise<void>;

  constructor(fn: LocalFunction, log: WriteStream) {
    this.child = fork(WORKER_FILE, [], {
      cwd: fn.options.cwd,
      env: fn.workerEnv(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      // The worker is built JS: it needs none of this process's loaders or flags.
      execArgv: [],
    });
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.done = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.state = 'stopped';
        this.killGroups();
        this.pending?.resolve({
          type: 'error',
          requestId: this.pending.requestId,
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${this.pending.requestId} Error: Runtime exited ${signal !== null ? `with signal ${signal}` : `with error: exit status ${String(code)}`}`,
        });
        this.pending = undefined;
        resolve();
      });
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`INIT_REPORT Init Duration: ${INIT_TIMEOUT_MS} ms Phase: init Status: timeout`));
        this.kill();
      }, INIT_TIMEOUT_MS);
      this.child.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.serverPid = m.serverPid;
          this.startError = m.startError;
          this.state = 'idle';
          resolve();
        } else if (m.type === 'init-error') {
          clearTimeout(timer);
          reject(new Error(`${m.errorType}: ${m.errorMessage}`));
        } else {
          if (m.serverPid !== undefined) this.serverPid = m.serverPid;
          if (m.type === 'result') this.startError = m.startError;
          if (this.pending?.requestId === m.requestId) {
            const p = this.pending;
            this.pending = undefined;
            p.resolve(m);
          }
        }
      });
      void this.done.then(() => {
        clearTimeout(timer);
        reject(new Error('Runtime exited during init'));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  invoke(msg: InvokeMessage): Promise<WorkerMessage> {
    return new Promise((resolve) => {
      this.pending = { requestId: msg.requestId, resolve };
      this.child.send(msg);
    });
  }

  /** Graceful: the worker closes its server, then exits; killed if it takes too long. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.state = 'stopped';
    const shutdown: ShutdownMessage = { type: 'shutdown' };
    try {
      this.child.send(shutdown);
    } catch {
      this.kill();
    }
    const timer = setTimeout(() => {
      this.kill();
    }, STOP_GRACE_MS);
    await this.done;
    clearTimeout(timer);
  }

  /** Lambda's way: the whole environment is gone at once (worker and server process groups). */
  kill(): void {
    this.state = 'stopped';
    this.killGroups();
  }

  private killGroups(): void {
    for (const pid of [this.child.pid, this.serverPid]) {
      if (pid === undefined) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Per-function counters for the status page. */
export interface FunctionStats {
  calls: number;
  errors: number;
  throttles: number;
  coldStarts: number;
  timeouts: number;
  lastError?: { at: string; message: string };
  /** Recent durations, ms (a bounded window). */
  durations: number[];
}

const DURATION_WINDOW = 1000;

/** One function `mcp-server-<id>` of the local Lambda service. */
export class LocalFunction {
  readonly name: string;
  readonly stats: FunctionStats = {
    calls: 0,
    errors: 0,
    throttles: 0,
    coldStarts: 0,
    timeouts: 0,
    durations: [],
  };
  private readonly envs = new Set<Environment>();
  private readonly waiting: ((env: Environment | Error) => void)[] = [];
  private readonly log: WriteStream;
  private readonly launchFile: string;
  /** Set when the server cannot start (the function answers every call with that error). */
  startError: string | undefined;
  /** Secrets taken from the local environment instead of their store. */
  readonly localSecrets: string[] = [];

  constructor(
    readonly server: ServerConfig,
    readonly options: LocalLambdaOptions & { region: string },
  ) {
    this.name = server.functionName;
    const dir = path.join(options.workDir, server.id);
    mkdirSync(dir, { recursive: true });
    const staged = options.launchFiles?.[server.id];
    if (staged !== undefined) {
      this.launchFile = staged;
    } else {
      this.launchFile = path.join(dir, 'launch.json');
      const dirs = options.launchPaths?.[server.id];
      const spec = { ...toLaunchSpec(server), ...(dirs !== undefined ? { path: [...dirs] } : {}) };
      // A secret whose variable is set in the developer's environment is taken from there.
      const parent = options.env ?? process.env;
      for (const name of Object.keys(spec.secrets)) {
        const value = parent[name];
        if (value === undefined) continue;
        spec.env[name] = value;
        spec.secrets = Object.fromEntries(Object.entries(spec.secrets).filter(([k]) => k !== name));
        this.localSecrets.push(name);
      }
      writeFileSync(this.launchFile, `${JSON.stringify(spec, null, 2)}\n`);
    }
    this.log = createWriteStream(path.join(dir, 'function.log'), { flags: 'a' });
  }

  get concurrencyLimit(): number {
    return this.server.aws.reservedConcurrency ?? this.options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  get environments(): { total: number; busy: number } {
    let busy = 0;
    for (const e of this.envs) if (e.state === 'busy' || e.state === 'starting') busy += 1;
    return { total: this.envs.size, busy };
  }

  get state(): 'cold' | 'warm' | 'failed' {
    if (this.startError !== undefined) return 'failed';
    return this.envs.size > 0 ? 'warm' : 'cold';
  }

  workerEnv(): NodeJS.ProcessEnv {
    const parent = this.options.env ?? process.env;
    const bin = path.join(this.options.cwd, 'node_modules', '.bin');
    return {
      ...parent,
      PATH: [bin, parent['PATH'] ?? ''].join(path.delimiter),
      MCP_FLEET_HANDLER: HANDLER_BUNDLE,
      MCP_FLEET_LAUNCH_FILE: this.launchFile,
      AWS_LAMBDA_FUNCTION_NAME: this.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.server.memory),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.server.timeout),
      AWS_REGION: parent['AWS_REGION'] ?? this.options.region,
      AWS_DEFAULT_REGION: parent['AWS_DEFAULT_REGION'] ?? parent['AWS_REGION'] ?? this.options.region,
      POWERTOOLS_SERVICE_NAME: this.name,
    };
  }

  async invoke(event: unknown, opts: InvokeOptions = {}): Promise<InvokeOutcome> {
    const requestId = randomUUID();
    const t0 = performance.now();
    let env: Environment;
    let cold: boolean;
    try {
      ({ env, cold } = await this.acquire());
    } catch (err) {
      if (err instanceof ThrottledError) this.stats.throttles += 1;
      throw err;
    }
    const deadline = Date.now() + this.server.timeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<WorkerMessage>((resolve) => {
      timer = setTimeout(() => {
        this.stats.timeouts += 1;
        env.kill();
        resolve({
          type: 'error',
          requestId,
          errorType: 'Sandbox.Timedout',
          errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${this.server.timeout.toFixed(2)} seconds`,
        });
      }, this.server.timeout * 1000);
    });
    const message: InvokeMessage = { type: 'invoke', requestId, event, deadline };
    if (opts.clientContext !== undefined) message.clientContext = opts.clientContext;
    const reply = await Promise.race([env.invoke(message), timeout]);
    clearTimeout(timer);
    this.release(env);
    if (reply.type === 'result') this.startError = env.startError;

    const durationMs = performance.now() - t0;
    const outcome: InvokeOutcome =
      reply.type === 'result'
        ? { requestId, payload: reply.payload, coldStart: cold, durationMs }
        : reply.type === 'error'
          ? {
              requestId,
              functionError: 'Unhandled',
              payload: { errorType: reply.errorType, errorMessage: reply.errorMessage, trace: [] },
              coldStart: cold,
              durationMs,
            }
          : {
              requestId,
              functionError: 'Unhandled',
              payload: { errorMessage: 'unexpected reply' },
              coldStart: cold,
              durationMs,
            };
    this.record(outcome);
    return outcome;
  }

  private record(outcome: InvokeOutcome): void {
    this.stats.calls += 1;
    if (outcome.coldStart) this.stats.coldStarts += 1;
    const failed =
      outcome.functionError !== undefined ||
      (outcome.payload as { isError?: unknown } | null)?.isError === true ||
      (outcome.payload as { error?: unknown } | null)?.error !== undefined;
    if (failed) {
      this.stats.errors += 1;
      this.stats.lastError = { at: new Date().toISOString(), message: errorText(outcome.payload) };
    }
    this.stats.durations.push(outcome.durationMs);
    if (this.stats.durations.length > DURATION_WINDOW) this.stats.durations.shift();
  }

  /** A new environment (a cold start), forgotten when its process ends. */
  private spawnEnvironment(): Environment {
    const env = new Environment(this, this.log);
    this.envs.add(env);
    void env.done.then(() => {
      this.envs.delete(env);
      this.handOff();
    });
    return env;
  }

  /** An idle environment, a new one (cold start) under the limit, or a place in the queue. */
  private async acquire(): Promise<{ env: Environment; cold: boolean }> {
    for (const env of this.envs) {
      if (env.state === 'idle') {
        env.state = 'busy';
        return { env, cold: false };
      }
    }
    if (this.envs.size < this.concurrencyLimit) {
      const env = this.spawnEnvironment();
      try {
        await env.ready;
      } catch (err) {
        env.kill();
        this.envs.delete(env);
        this.startError = (err as Error).message;
        throw err;
      }
      this.startError = env.startError;
      env.state = 'busy';
      return { env, cold: true };
    }
    if (
      this.concurrencyLimit === 0 ||
      this.waiting.length >= (this.options.queueLimit ?? DEFAULT_QUEUE_LIMIT)
    ) {
      throw new ThrottledError(this.name, this.concurrencyLimit);
    }
    const got = await new Promise<Environment | Error>((resolve) => this.waiting.push(resolve));
    if (got instanceof Error) throw got;
    return { env: got, cold: false };
  }

  private release(env: Environment): void {
    env.lastUsed = Date.now();
    if (env.state !== 'busy') return;
    env.state = 'idle';
    this.handOff();
  }

  /** Gives a free (or new) environment to the next waiting call. */
  private handOff(): void {
    const next = this.waiting.shift();
    if (!next) return;
    for (const env of this.envs) {
      if (env.state === 'idle') {
        env.state = 'busy';
        next(env);
        return;
      }
    }
    if (this.envs.size < this.concurrencyLimit) {
      const env = this.spawnEnvironment();
      env.ready.then(
        () => {
          env.state = 'busy';
          next(env);
        },
        (err: unknown) => {
          this.envs.delete(env);
          next(err as Error);
        },
      );
      return;
    }
    this.waiting.unshift(next);
  }

  /** Stops environments idle for longer than `idleMs`. */
  reclaimIdle(idleMs: number): void {
    const now = Date.now();
    for (const env of this.envs) {
      if (env.state === 'idle' && now - env.lastUsed > idleMs) {
        this.envs.delete(env);
        void env.stop();
      }
    }
  }

  /** Kills the environments (a way to test recovery; what a crash of the host would do). */
  killEnvironments(): number {
    const n = this.envs.size;
    for (const env of this.envs) env.kill();
    return n;
  }

  async shutdown(): Promise<void> {
    for (const w of this.waiting.splice(0)) w(new Error('the local Lambda service is shutting down'));
    await Promise.all([...this.envs].map((e) => e.stop()));
    this.envs.clear();
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

function errorText(payload: unknown): string {
  const p = payload as {
    errorMessage?: unknown;
    content?: { text?: unknown }[];
    error?: { message?: unknown };
  } | null;
  if (typeof p?.errorMessage === 'string') return p.errorMessage;
  if (typeof p?.error?.message === 'string') return p.error.message;
  const text = p?.content?.map((c) => (typeof c.text === 'string' ? c.text : '')).join('');
  return text !== undefined && text !== '' ? text : JSON.stringify(payload).slice(0, 500);
}

/** The local Lambda service: every server of the fleet as a function `mcp-server-<id>`. */
export class LocalLambda {
  readonly functions = new Map<string, LocalFunction>();
  private readonly reclaimer: NodeJS.Timeout;

  constructor(
    servers: readonly ServerConfig[],
    readonly options: LocalLambdaOptions,
  ) {
    const region = options.region ?? options.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1';
    for (const server of servers) {
      if (!server.enabled) continue;
      this.functions.set(server.functionName, new LocalFunction(server, { ...options, region }));
    }
    const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.reclaimer = setInterval(
      () => {
        for (const fn of this.functions.values()) fn.reclaimIdle(idleMs);
      },
      Math.min(idleMs, 30_000),
    );
    this.reclaimer.unref();
  }

  /** By name, `name:qualifier`, or ARN. */
  resolve(nameOrArn: string): LocalFunction {
    const decoded = decodeURIComponent(nameOrArn);
    const name = decoded.startsWith('arn:') ? (decoded.split(':')[6] ?? '') : (decoded.split(':')[0] ?? '');
    const fn = this.functions.get(name);
    if (!fn) throw new FunctionNotFoundError(decoded);
    return fn;
  }

  async invoke(nameOrArn: string, event: unknown, opts: InvokeOptions = {}): Promise<InvokeOutcome> {
    const fn = this.resolve(nameOrArn);
    const outcome = await fn.invoke(event, opts);
    const custom = (opts.clientContext as { custom?: { bedrockAgentCoreToolName?: unknown } } | undefined)
      ?.custom;
    const record: InvocationRecord = { ...outcome, functionName: fn.name, serverId: fn.server.id };
    if (typeof custom?.bedrockAgentCoreToolName === 'string')
      record.toolName = custom.bedrockAgentCoreToolName;
    this.options.onInvoke?.(record);
    return outcome;
  }

  /**
   * Applies a new set of servers while the service runs (hot reload): a new server gets its
   * function, a changed one (its config, its launch folders, or named in `replace` because its
   * install was rebuilt) a new function whose environments start on the next call, and a removed
   * one is taken away. Calls already running in a replaced or removed function finish there
   * (bounded by its timeout); then its environments are stopped. Unchanged functions and their
   * warm environments are not touched.
   */
  async apply(
    servers: readonly ServerConfig[],
    opts: { launchPaths?: Readonly<Record<string, readonly string[]>>; replace?: readonly string[] } = {},
  ): Promise<{ added: string[]; replaced: string[]; removed: string[]; unchanged: string[] }> {
    const region =
      this.options.region ?? this.options.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1';
    const launchPaths = opts.launchPaths ?? this.options.launchPaths;
    const options = { ...this.options, region, ...(launchPaths !== undefined ? { launchPaths } : {}) };
    const same = (fn: LocalFunction, server: ServerConfig): boolean =>
      fn.name === server.functionName &&
      sameServer(fn.server, server) &&
      JSON.stringify(fn.options.launchPaths?.[server.id] ?? null) ===
        JSON.stringify(launchPaths?.[server.id] ?? null) &&
      !(opts.replace ?? []).includes(server.id);
    const byId = new Map([...this.functions.values()].map((fn) => [fn.server.id, fn]));
    const result = {
      added: [] as string[],
      replaced: [] as string[],
      removed: [] as string[],
      unchanged: [] as string[],
    };
    const retired: LocalFunction[] = [];
    const wanted = servers.filter((s) => s.enabled);
    for (const server of wanted) {
      const old = byId.get(server.id);
      if (old !== undefined && same(old, server)) {
        result.unchanged.push(server.id);
        continue;
      }
      if (old !== undefined) {
        this.functions.delete(old.name);
        retired.push(old);
        result.replaced.push(server.id);
      } else result.added.push(server.id);
      this.functions.set(server.functionName, new LocalFunction(server, options));
    }
    for (const [id, fn] of byId) {
      if (wanted.some((s) => s.id === id)) continue;
      if (this.functions.get(fn.name) === fn) this.functions.delete(fn.name);
      retired.push(fn);
      result.removed.push(id);
    }
    // The config's order (the status page and the catalog follow it).
    const ordered = wanted.flatMap((s) => {
      const fn = this.functions.get(s.functionName);
      return fn ? [fn] : [];
    });
    this.functions.clear();
    for (const fn of ordered) this.functions.set(fn.name, fn);
    await Promise.all(retired.map((fn) => retire(fn)));
    return result;
  }

  async shutdown(): Promise<void> {
    clearInterval(this.reclaimer);
    await Promise.all([...this.functions.values()].map((f) => f.shutdown()));
  }
}

/** Lets the calls running in a function that left the service finish, then stops it. */
async function retire(fn: LocalFunction): Promise<void> {
  const until = Date.now() + fn.server.timeout * 1000 + 1000;
  while (fn.environments.busy > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  await fn.shutdown();
}

/** Whether two configs of a server run it the same way (where it is written in the file aside). */
export function sameServer(a: ServerConfig, b: ServerConfig): boolean {
  return JSON.stringify({ ...a, source: null }) === JSON.stringify({ ...b, source: null });
}
