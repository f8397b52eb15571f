/**
 * The local Lambda service: every server of the fleet as a function `mcp-server-<id>`, found by
 * name, `name:qualifier` or ARN, with idle environments reclaimed in the background.
 */
import type { ServerConfig } from '../config/model.js';
import { GuardianProcess } from './freeze-guardian.js';
import {
  DEFAULT_IDLE_MS,
  LocalFunction,
  type FunctionOptions,
  type InvocationRecord,
  type InvokeOptions,
  type InvokeOutcome,
} from './function.js';

export interface LocalLambdaOptions extends Omit<
  FunctionOptions,
  'region' | 'launchFile' | 'launchPath' | 'handler'
> {
  /** Idle environments are stopped after this long. */
  idleMs?: number;
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
  /** By server id: the handler module its environments load instead of mcp-fleet's runtime. */
  handlers?: Readonly<Record<string, string>>;
  /** Called after every invocation (for the dev log and status). */
  onInvoke?: (record: InvocationRecord) => void;
}

/** Lambda's unknown-function error (HTTP 404). */
export class FunctionNotFoundError extends Error {
  readonly errorType = 'ResourceNotFoundException';
  constructor(name: string) {
    super(`Function not found: ${name}`);
    this.name = 'ResourceNotFoundException';
  }
}

export class LocalLambda {
  readonly functions = new Map<string, LocalFunction>();
  private readonly reclaimer: NodeJS.Timeout;
  private readonly guardian = new GuardianProcess();

  constructor(
    servers: readonly ServerConfig[],
    readonly options: LocalLambdaOptions,
  ) {
    const region = options.region ?? options.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1';
    const { launchFiles, launchPaths, handlers, idleMs: _idle, onInvoke: _onInvoke, ...shared } = options;
    for (const server of servers) {
      if (!server.enabled) continue;
      const launchFile = launchFiles?.[server.id];
      const launchPath = launchPaths?.[server.id];
      const handler = handlers?.[server.id];
      this.functions.set(
        server.functionName,
        new LocalFunction(server, {
          ...shared,
          region,
          guardian: this.guardian,
          ...(launchFile !== undefined ? { launchFile } : {}),
          ...(launchPath !== undefined ? { launchPath } : {}),
          ...(handler !== undefined ? { handler } : {}),
        }),
      );
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

  async shutdown(): Promise<void> {
    clearInterval(this.reclaimer);
    await Promise.all([...this.functions.values()].map((f) => f.shutdown()));
    await this.guardian.close();
  }
}
