import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatProblem, loadConfig } from '../../config/index.js';
import { DEFAULT_PORT, startFleet } from '../../local/fleet.js';
import type { InvocationRecord } from '../../local/function.js';
import { CliError, EXIT } from '../exit.js';

export interface DevOptions {
  config: string;
  port?: string;
  host: string;
  token?: string;
  concurrency?: string;
  search?: boolean;
  /** false with --no-freeze. */
  freeze: boolean;
  memoryLimits: string;
  sandbox?: boolean;
}

const MEMORY_MODES = ['auto', 'cgroup', 'proc', 'off'] as const;

/** Where a running dev fleet says where it is (for `invoke` and `tools`). */
export function stateFile(configFile: string): string {
  return path.join(path.dirname(path.resolve(configFile)), '.mcp-fleet', 'dev.json');
}

function callLine(r: InvocationRecord): string {
  const time = new Date().toISOString().slice(11, 23);
  const what = r.toolName ?? jsonRpcMethod(r);
  const status =
    r.functionError !== undefined
      ? `FAILED (${errorMessage(r.payload) ?? r.functionError})`
      : isErrorResult(r.payload)
        ? 'error result'
        : 'ok';
  const init = r.report.initDurationMs !== undefined ? `, init ${r.report.initDurationMs.toFixed(0)} ms` : '';
  const memory = `${r.report.maxMemoryUsedMb}/${r.report.memorySizeMb} MB`;
  return `${time} ${r.functionName} ${what} ${r.durationMs.toFixed(1)} ms${r.coldStart ? ` (cold start${init})` : ''} ${memory} ${status}`;
}

function errorMessage(payload: unknown): string | undefined {
  const m = (payload as { errorMessage?: unknown } | null)?.errorMessage;
  return typeof m === 'string' ? m : undefined;
}

function jsonRpcMethod(r: InvocationRecord): string {
  const p = r.payload as { id?: unknown; result?: unknown; statusCode?: unknown } | null;
  if (typeof p?.statusCode === 'number') return `HTTP ${p.statusCode}`;
  return 'json-rpc';
}

function isErrorResult(payload: unknown): boolean {
  const p = payload as { isError?: unknown; error?: unknown } | null;
  return p?.isError === true || p?.error !== undefined;
}

export async function devCommand(options: DevOptions): Promise<number> {
  const { config, problems } = await loadConfig(options.config);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (!config)
    throw new CliError(
      `${options.config} is not valid; fix the problems above (mcp-fleet validate ${options.config})`,
    );
  const port = options.port === undefined ? DEFAULT_PORT : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port ${options.port ?? ''}: not a port number`, EXIT.USAGE);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new CliError(
      `--concurrency ${options.concurrency ?? ''}: use a whole number of environments, 1 or more`,
      EXIT.USAGE,
    );
  }
  const memory = MEMORY_MODES.find((m) => m === options.memoryLimits);
  if (memory === undefined)
    throw new CliError(
      `--memory-limits ${options.memoryLimits}: use one of ${MEMORY_MODES.join(', ')}`,
      EXIT.USAGE,
    );
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };

  out(
    `mcp-fleet dev: starting ${config.servers.filter((s) => s.enabled).length} servers from ${options.config} …`,
  );
  let started = false;
  let fleet;
  try {
    fleet = await startFleet(config, {
      host: options.host,
      port,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.search !== undefined ? { search: options.search } : {}),
      freeze: options.freeze,
      memory,
      ...(options.sandbox === true ? { sandbox: true } : {}),
      onInvoke: (r) => {
        if (started) out(callLine(r));
      },
    });
  } catch (err) {
    throw new CliError((err as Error).message);
  }

  const failed = fleet.discovery.filter((e) => e.error !== undefined);
  if (fleet.fromBuild.length > 0)
    out(
      `  run from the build (.mcp-fleet/build): ${fleet.fromBuild.join(', ')}; the others: their command on PATH`,
    );
  if (fleet.sandbox) {
    out(
      `  in the Lambda sandbox (read-only /var/task, only /tmp writable): ${fleet.sandbox.inside.join(', ') || 'none'}`,
    );
    for (const o of fleet.sandbox.outside) out(`  ${o.id}: outside the sandbox: ${o.why}`);
  }
  for (const fn of fleet.lambda.functions.values()) {
    if (fn.localSecrets.length > 0)
      out(
        `  ${fn.server.id}: ${fn.localSecrets.join(', ')} from your environment, not from its secret store`,
      );
  }
  const width = Math.max(...fleet.discovery.map((e) => e.serverId.length), 6);
  out('');
  for (const e of fleet.discovery) {
    const status =
      e.error !== undefined
        ? `FAILED  ${e.error}`
        : `${String(e.tools.length).padStart(3)} tools${e.warnings.length > 0 ? ` (${e.warnings.length} schema warnings)` : ''}`;
    out(`  ${e.serverId.padEnd(width)}  ${status}`);
  }
  out('');
  out(`  MCP gateway (AgentCore-compatible)  ${fleet.url}/mcp`);
  out(`  one server (Function URL front)     ${fleet.url}/servers/<id>/mcp`);
  out(
    `  Lambda Invoke API                   ${fleet.url}   (aws lambda invoke --endpoint-url ${fleet.url} …)`,
  );
  out(`  status                              ${fleet.url}/${options.token !== undefined ? '?token=…' : ''}`);
  out('');
  const total = fleet.discovery.reduce((n, e) => n + e.tools.length, 0);
  out(
    `${fleet.discovery.length - failed.length} of ${fleet.discovery.length} servers up, ${total} tools${failed.length > 0 ? `; ${failed.length} failed (their calls get that error)` : ''}. Ctrl-C to stop.`,
  );
  started = true;

  const state = stateFile(options.config);
  await mkdir(path.dirname(state), { recursive: true });
  await writeFile(
    state,
    `${JSON.stringify({ url: fleet.url, pid: process.pid, config: path.resolve(options.config) }, null, 2)}\n`,
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      out(`\n${signal}: stopping every server …`);
      resolve();
    };
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
  });
  await fleet.close();
  await rm(state, { force: true });
  out('stopped.');
  return EXIT.OK;
}
