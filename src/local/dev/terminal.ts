/**
 * What `mcp-fleet dev` prints: the ready banner, one line per call, what a reload did — as text
 * for people, or (`--json`) as one JSON object per line for scripts. Both render the same values:
 * the status model, the invocation records, the reload's changes.
 */
import { functionErrorMessage, invocationError } from '../../contract/function-call.js';
import type { DecisionRecord } from '../gateway/policy.js';
import { decisionLine } from '../gateway/policy.js';
import type { InvocationRecord } from '../lambda/function.js';
import type { FleetChange } from './fleet.js';
import { serverLines, type FleetStatus } from './status.js';

/** What the banner says besides the status model. */
export interface ReadyView {
  url: string;
  configFile: string;
  /** Servers the config enables. */
  enabled: number;
  watching: boolean;
  tokenRequired: boolean;
  allowedOrigins: readonly string[];
  allowedHosts: readonly string[];
  /** `policy:` in words (mode, policies, callers), when the config has one. */
  policy?: string;
  /** Lines about where servers run from (the build, the sandbox, secrets from the environment). */
  notes: readonly string[];
}

export interface DevOutput {
  ready(status: FleetStatus, view: ReadyView): void;
  call(record: InvocationRecord): void;
  decision(record: DecisionRecord): void;
  interceptor(line: string): void;
  /** An asynchronous invocation's event dropped after its retries (LocalLambda.invokeAsync). */
  eventDropped(functionName: string, why: string): void;
  /** The OTLP export (`--otlp`) failed, or works again after failing (LocalTracing's onExport). */
  traceExport(ok: boolean, message: string): void;
  /** Something to know that no answer says (the gateway's onNotice). */
  notice(line: string): void;
  reloaded(change: FleetChange, view: ReloadView): void;
  stopping(signal: string): void;
  stopped(): void;
}

export interface ReloadView {
  configFile: string;
  /** Servers whose build failed in this reload, with the reason. */
  failed: readonly { id: string; reason: string }[];
  /** Fleet-level settings that changed (applied on restart only). */
  fleetLevel: readonly string[];
  /** Fleet-level settings that changed and were applied at once (rate limits, interceptors, policy). */
  appliedLive: readonly string[];
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The gateway's endpoints. */
export function endpoints(url: string): Record<'gateway' | 'server' | 'invoke' | 'status', string> {
  return { gateway: `${url}/mcp`, server: `${url}/servers/<id>/mcp`, invoke: url, status: `${url}/` };
}

/** One line per invocation: when, what, how long, cold or warm, memory, and how it went. */
export function callLine(r: InvocationRecord, at: Date): string {
  const what = r.toolName ?? jsonRpcMethod(r);
  const status =
    r.functionError !== undefined
      ? `FAILED (${functionErrorMessage(r.payload) ?? r.functionError})`
      : invocationError(r) !== undefined
        ? 'error result'
        : 'ok';
  const init = r.report.initDurationMs !== undefined ? `, init ${r.report.initDurationMs.toFixed(0)} ms` : '';
  const memory = `${r.report.maxMemoryUsedMb}/${r.report.memorySizeMb} MB`;
  const time = at.toISOString().slice(11, 23);
  return `${time} ${r.functionName} ${what} ${r.durationMs.toFixed(1)} ms${r.coldStart ? ` (cold start${init})` : ''} ${memory} ${status}`;
}

function jsonRpcMethod(r: InvocationRecord): string {
  const p = r.payload as { statusCode?: unknown } | null;
  return typeof p?.statusCode === 'number' ? `HTTP ${p.statusCode}` : 'json-rpc';
}

/** The status model's servers as the banner lists them. */
function catalogOf(status: FleetStatus): string[] {
  const entries = status.functions.map((f) => ({
    serverId: f.id,
    tools: f.tools,
    warnings: f.warnings,
    ...(f.catalogError !== undefined ? { error: f.catalogError } : {}),
  }));
  return serverLines(entries, status.notRunning);
}

/** The banner: where servers run from, each server's tools, the endpoints, who may call. */
export function bannerLines(status: FleetStatus, view: ReadyView): string[] {
  const { url } = view;
  const lines = [...view.notes, '', ...catalogOf(status), ''];
  if (view.policy !== undefined) lines.push(`  policy                              ${view.policy}`);
  lines.push(
    `  MCP gateway (AgentCore-compatible)  ${url}/mcp`,
    `  one server (Function URL front)     ${url}/servers/<id>/mcp`,
    `  Lambda Invoke API                   ${url}   (aws lambda invoke --endpoint-url ${url} …)`,
    `  status                              ${url}/${view.tokenRequired ? '   (it asks for the --token; or open /#token=…, which stays in the browser)' : ''}`,
    '',
    `  browser pages allowed               ${[`this server's own (${url})`, ...view.allowedOrigins].join(', ')}${view.allowedOrigins.length === 0 ? '; --allowed-origin adds one' : ''}`,
  );
  if (view.allowedHosts.length > 0)
    lines.push(`  also answers to                     ${view.allowedHosts.join(', ')}`);
  lines.push('', readyLine(status, view));
  return lines;
}

/** The last line: how many servers are up; printed once everything it announces is in place. */
export function readyLine(status: FleetStatus, view: ReadyView): string {
  const notRunning = status.notRunning?.length ?? 0;
  const down = status.functions.filter((f) => f.catalogError !== undefined).length + notRunning;
  const total = status.functions.reduce((n, f) => n + f.tools.length, 0);
  const failed =
    down > 0 ? `; ${down} failed (${notRunning > 0 ? 'see above; ' : ''}their calls get that error)` : '';
  const watching = view.watching ? ` Watching ${view.configFile} for changes.` : '';
  return `${status.functions.length + notRunning - down} of ${view.enabled} servers up, ${plural(total, 'tool')}${failed}.${watching} Ctrl-C to stop.`;
}

/** What a reload did, then each added or replaced server's tools (or why it has none). */
export function reloadLines(change: FleetChange, view: ReloadView): string[] {
  const parts = [
    change.added.length > 0 ? `added ${change.added.join(', ')}` : '',
    change.replaced.length > 0 ? `replaced ${change.replaced.join(', ')}` : '',
    change.removed.length > 0 ? `removed ${change.removed.join(', ')}` : '',
    `${plural(change.unchanged.length, 'server')} unchanged, still serving`,
  ].filter((p) => p !== '');
  const lines = [
    `reloaded ${view.configFile}: ${parts.join('; ')}`,
    ...serverLines(change.listed, view.failed),
  ];
  if (view.appliedLive.length > 0) lines.push(`  ${view.appliedLive.join(', ')} changed: applied`);
  if (view.fleetLevel.length > 0)
    lines.push(
      `  ${view.fleetLevel.join(', ')} changed: restart mcp-fleet dev to apply ${view.fleetLevel.length > 1 ? 'them' : 'it'}`,
    );
  return lines;
}

/** Text for people, on the given line writer. */
export function textOutput(out: (line: string) => void, now: () => Date = () => new Date()): DevOutput {
  return {
    ready: (status, view) => {
      for (const line of bannerLines(status, view)) out(line);
    },
    call: (r) => {
      out(callLine(r, now()));
    },
    decision: (r) => {
      out(decisionLine(r));
    },
    interceptor: (line) => {
      out(line);
    },
    eventDropped: (functionName, why) => {
      out(`${now().toISOString().slice(11, 23)} ${functionName} asynchronous event DROPPED (${why})`);
    },
    traceExport: (ok, message) => {
      out(`${now().toISOString().slice(11, 23)} traces: ${ok ? message : `WARNING ${message}`}`);
    },
    notice: (line) => {
      out(`${now().toISOString().slice(11, 23)} ${line}`);
    },
    reloaded: (change, view) => {
      for (const line of reloadLines(change, view)) out(line);
    },
    stopping: (signal) => {
      out(`\n${signal}: stopping every server …`);
    },
    stopped: () => {
      out('stopped.');
    },
  };
}

/** One JSON object per line (`--json`): `event` says what it is. */
export function jsonOutput(out: (line: string) => void, now: () => Date = () => new Date()): DevOutput {
  const emit = (event: string, body: Record<string, unknown>): void => {
    out(JSON.stringify({ event, at: now().toISOString(), ...body }));
  };
  return {
    ready: (status, view) => {
      emit('ready', {
        url: view.url,
        endpoints: endpoints(view.url),
        config: view.configFile,
        enabled: view.enabled,
        watching: view.watching,
        status,
      });
    },
    call: (r) => {
      const { payload: _payload, ...rest } = r;
      const outcome =
        r.functionError !== undefined ? 'failed' : invocationError(r) !== undefined ? 'error result' : 'ok';
      emit('call', { ...rest, outcome });
    },
    decision: (r) => {
      emit('decision', { ...r });
    },
    interceptor: (line) => {
      emit('interceptor', { message: line.trim() });
    },
    eventDropped: (functionName, why) => {
      emit('event-dropped', { functionName, why });
    },
    traceExport: (ok, message) => {
      emit('trace-export', { ok, message });
    },
    notice: (line) => {
      emit('notice', { message: line });
    },
    reloaded: (change, view) => {
      const { listed, ...rest } = change;
      emit('reload', {
        ...rest,
        servers: listed.map((e) => ({
          id: e.serverId,
          tools: e.tools.length,
          warnings: e.warnings.length,
          ...(e.error !== undefined ? { error: e.error } : {}),
        })),
        failed: view.failed,
        restartToApply: view.fleetLevel,
        appliedLive: view.appliedLive,
      });
    },
    stopping: (signal) => {
      emit('stopping', { signal });
    },
    stopped: () => {
      emit('stopped', {});
    },
  };
}
