import { invocationError } from '../../contract/function-call.js';

/** A function's counters for the status page and the terminal. */

/** Recent durations kept per function (a bounded window). */
const DURATION_WINDOW = 1000;

export interface FunctionStats {
  calls: number;
  errors: number;
  throttles: number;
  coldStarts: number;
  timeouts: number;
  /** Environments killed for going over the function's memory. */
  outOfMemory: number;
  /** Init phases cut at Lambda's 10 s limit (the init then ran inside the first invocation). */
  initTimeouts: number;
  /** The most memory an environment of this function used, MB (Lambda's "Max Memory Used"). */
  maxMemoryUsedMb: number;
  lastError?: { at: string; message: string };
  /** Recent durations, ms (a bounded window). */
  durations: number[];
}

export const emptyStats = (): FunctionStats => ({
  calls: 0,
  errors: 0,
  throttles: 0,
  coldStarts: 0,
  timeouts: 0,
  outOfMemory: 0,
  initTimeouts: 0,
  maxMemoryUsedMb: 0,
  durations: [],
});

/** What one invocation adds to the counters. */
export interface Counted {
  coldStart: boolean;
  durationMs: number;
  maxMemoryUsedMb: number;
  functionError?: string;
  payload: unknown;
  streamed?: { flagged?: string };
}

/** Counts an invocation: an error is a function error, an `isError` result, a JSON-RPC error or an HTTP error. */
export function countInvocation(stats: FunctionStats, c: Counted, at: string): void {
  stats.calls += 1;
  if (c.coldStart) stats.coldStarts += 1;
  stats.maxMemoryUsedMb = Math.max(stats.maxMemoryUsedMb, c.maxMemoryUsedMb);
  const error = c.functionError !== undefined ? errorText(c.payload) : invocationError(c);
  if (error !== undefined) {
    stats.errors += 1;
    stats.lastError = { at, message: error };
  }
  stats.durations.push(c.durationMs);
  if (stats.durations.length > DURATION_WINDOW) stats.durations.shift();
}

/** The durations' p-quantile, ms with two decimals; null before any call. */
export function quantile(stats: FunctionStats, p: number): number | null {
  const sorted = [...stats.durations].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const at = Math.min(sorted.length - 1, Math.floor(p * sorted.length));
  return Math.round((sorted[at] ?? 0) * 100) / 100;
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
