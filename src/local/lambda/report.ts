/**
 * The platform lines Lambda writes to a function's log around its own output: INIT_START,
 * INIT_REPORT (an init that timed out or failed), START, END and REPORT, with the same fields
 * and layout (tab-separated), so a log read locally reads like one from CloudWatch.
 */

/** What Lambda reports for one invocation. */
export interface InvocationReport {
  requestId: string;
  /** The invocation, ms (an init run inside it included). */
  durationMs: number;
  /** What is billed, whole ms: the invocation, and the init phase of a cold start. */
  billedDurationMs: number;
  memorySizeMb: number;
  /** The environment's high-water mark so far, MB. */
  maxMemoryUsedMb: number;
  /** Set on the invocation that started the environment (a cold start). */
  initDurationMs?: number;
  /** Set when the invocation failed in the platform (timeout, out of memory, runtime exit). */
  status?: 'error' | 'timeout';
  errorType?: string;
}

const ms = (n: number): string => `${n.toFixed(2)} ms`;

/** Lambda's billed duration: the invocation plus a cold start's init, rounded up to 1 ms. */
export function billedDuration(durationMs: number, initDurationMs?: number): number {
  return Math.max(1, Math.ceil(durationMs + (initDurationMs ?? 0)));
}

export const toMb = (bytes: number): number => Math.ceil(bytes / (1024 * 1024));

export function initStartLine(runtime: string): string {
  return `INIT_START Runtime Version: ${runtime}`;
}

export function initReportLine(
  durationMs: number,
  phase: 'init' | 'invoke',
  status: 'success' | 'timeout' | 'error',
  errorType?: string,
): string {
  const base = `INIT_REPORT Init Duration: ${ms(durationMs)}\tPhase: ${phase}\tStatus: ${status}`;
  return errorType === undefined ? base : `${base}\tError Type: ${errorType}`;
}

export function startLine(requestId: string): string {
  return `START RequestId: ${requestId} Version: $LATEST`;
}

export function endLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

export function reportLine(r: InvocationReport): string {
  const fields = [
    `REPORT RequestId: ${r.requestId}`,
    `Duration: ${ms(r.durationMs)}`,
    `Billed Duration: ${r.billedDurationMs} ms`,
    `Memory Size: ${r.memorySizeMb} MB`,
    `Max Memory Used: ${r.maxMemoryUsedMb} MB`,
  ];
  if (r.initDurationMs !== undefined) fields.push(`Init Duration: ${ms(r.initDurationMs)}`);
  if (r.status !== undefined) fields.push(`Status: ${r.status}`);
  if (r.errorType !== undefined) fields.push(`Error Type: ${r.errorType}`);
  return fields.join('\t');
}
