/**
 * A local Lambda execution environment, as the function's pool sees it: started (its init runs),
 * invoked, frozen and thawed between invocations, stopped or killed, and what it reports (memory,
 * the server's start error). Lambda has one contract for every runtime; here each host is one
 * implementation beside the others: the event-function environment (event-environment.ts) today.
 */
import type { Writable } from 'node:stream';
import type { Clock } from '../../platform/time.js';
import type { MemoryMode } from './memory.js';
import type { InvokeMessage, InvokeReply } from './worker-protocol.js';

export type EnvironmentState = 'init' | 'idle' | 'busy' | 'stopped';

/** Why an environment was killed. */
export type KillReason = 'out-of-memory' | 'timeout' | 'init' | 'reclaimed' | 'killed';

export type InitOutcome =
  | { status: 'success'; durationMs: number }
  | { status: 'timeout'; durationMs: number }
  | { status: 'error'; durationMs: number; errorType: string; errorMessage: string };

/** A streamed response's pieces, as the handler writes them. */
export type ChunkSink = (data: Buffer, contentType: string) => void;

export interface ExecutionEnvironment {
  readonly id: string;
  /** Moved between `idle` and `busy` by the function's pool; `stopped` once it ends. */
  state: EnvironmentState;
  /** When its last invocation ended (the pool's clock, epoch ms). */
  lastUsed: number;
  /** Resolves once it has ended and nothing of it is left. */
  readonly done: Promise<void>;
  /** Why it was killed, once it was. */
  readonly killedBecause: KillReason | undefined;
  /** Its first process (the worker), while it runs. */
  readonly pid: number | undefined;
  /** The MCP server's process, once the handler told it. */
  readonly serverPid: number | undefined;
  /** The server's own start error, when the handler reported one (the function then answers with it). */
  readonly startError: string | undefined;
  /** Memory high-water mark, bytes (Lambda's "Max Memory Used"). */
  readonly peakBytes: number;
  readonly isFrozen: boolean;
  /**
   * The folder on this machine that is its /tmp (its TMPDIR; removed when it ends), or undefined
   * when it has a /tmp of its own already (the sandbox's, a mount of its own).
   */
  readonly tmp?: string | undefined;
  /**
   * Once it has ended: the files of its /tmp folder that a call read after an earlier call wrote
   * them (`filesReadAfterWrite`): state a later call needed. Empty under the sandbox.
   */
  readonly filesReadLater?: readonly string[];
  /** A call begins in it (its files are read against the calls' starts). */
  noteCall?(at?: number): void;

  /** Waits for the end of init at most `limitMs`; stops nothing (the caller decides what a timeout means). */
  awaitInit(limitMs: number): Promise<InitOutcome>;
  /** One invocation; resolves with the answer, or the platform's error if the environment dies. */
  invoke(msg: InvokeMessage, onChunk?: ChunkSink): Promise<InvokeReply>;
  /** Lambda's freeze between invocations (nothing runs until {@link thaw}). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Measures memory now; kills the environment (and answers true) when it is over its limit. */
  measure(): Promise<boolean>;
  /** Every process of the environment now. */
  members(): Promise<number[]>;
  /** Graceful: the environment ends its work and exits (killed if it takes too long). */
  stop(): Promise<void>;
  /** Every process at once; resolves when all are gone. */
  kill(reason: KillReason): Promise<void>;
  /** Resolves when it has ended and, if it was killed, every process of it is gone. */
  gone(): Promise<void>;
}

/** How the worker process is started (plain, or inside a sandbox). */
export interface WorkerLaunch {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Cleans up after the worker ended (a sandbox's root folder). */
  dispose?: () => Promise<void>;
  /**
   * `mount`: the process gets a /tmp of its own (the sandbox's tmpfs, in its mount namespace).
   * Otherwise the environment is given a folder of its own as its /tmp (own-tmp.ts).
   */
  tmp?: 'mount';
}

/**
 * Kills what the service started when the service is gone (see guardian.ts): every process of the
 * environments still running, and the processes still frozen.
 */
export interface Guardian {
  /** An environment's first process started: its tree and process group are the guardian's. */
  started(pid: number): void;
  /** That environment is over (its processes reaped). */
  ended(pid: number): void;
  frozen(pids: readonly number[]): void;
  thawed(pids: readonly number[]): void;
}

/** What a function gives each environment it starts. */
export interface EnvironmentSpec {
  /** Names the environment's cgroup and log lines. */
  name: string;
  /** Its id (random when not given). */
  id?: string;
  memoryMb: number;
  memoryMode: MemoryMode;
  /** Stop the environment's processes between invocations (Lambda's freeze). */
  freeze: boolean;
  launch: WorkerLaunch;
  /** The function's log: the environment's output goes there. */
  log: Writable;
  /** Told of the environment and of what is frozen, to kill them should the service die. */
  guardian?: Guardian;
  clock: Clock;
  /** Told when a graceful shutdown (a web function's SIGTERM, then its grace) begins and ends. */
  onShutdown?: ShutdownListener;
}

/** How a graceful shutdown ended: within its grace, or killed when the grace ran out. */
export type ShutdownStatus = 'success' | 'timeout';

/** A graceful shutdown's beginning and end. */
export interface ShutdownListener {
  started(): void;
  ended(status: ShutdownStatus): void;
}

/** Starts an environment (its init begins); the function's pool owns it from then on. */
export type EnvironmentFactory = (spec: EnvironmentSpec) => Promise<ExecutionEnvironment>;
