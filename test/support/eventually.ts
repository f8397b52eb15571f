/**
 * Waiting in tests for what the code under test does on its own time: a condition polled until it
 * holds, failing loudly — with what was awaited and what was last seen — if it never does. A test
 * asserts the outcome; the timeout is only a backstop for a hang, never what the test measures.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** What is awaited, for the failure message. */
  what: string;
  /** Backstop for a hang (default 60 s: generous on a loaded machine). */
  timeoutMs?: number;
  /** How often the condition is looked at (default 25 ms). */
  intervalMs?: number;
  /** What was last seen, for the failure message. */
  seen?: () => string;
}

/** Thrown by a condition that can never hold any more (the process it waits on ended): no more waiting. */
export class GiveUp extends Error {}

/**
 * The first value of `check` that is neither undefined nor false. A check that throws is tried
 * again (its last error is reported on timeout), unless it throws {@link GiveUp}.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: EventuallyOptions,
): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof GiveUp) {
        const seen = opts.seen ? `; seen: ${opts.seen().slice(-2000)}` : '';
        throw new Error(`gave up waiting for ${opts.what}: ${err.message}${seen}`, { cause: err });
      }
      lastError = err;
    }
    if (Date.now() >= until) {
      const seen = opts.seen ? `; last seen: ${opts.seen().slice(-2000)}` : '';
      const error = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(
        `timed out after ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s waiting for ${opts.what}${error}${seen}`,
      );
    }
    await sleep(opts.intervalMs ?? 25);
  }
}

/** Collects a child's stdout and stderr as they come. */
export function outputOf(child: ChildProcess): {
  stdout: () => string;
  stderr: () => string;
  all: () => string;
} {
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    all += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    all += d;
  });
  return { stdout: () => stdout, stderr: () => stderr, all: () => all };
}

/**
 * Waits until `pattern` appears in `text()` (after `from` characters); fails early, with the
 * output (`seen`, default `text`), if `child` exits first.
 */
export function waitForText(
  text: () => string,
  pattern: RegExp,
  opts: {
    what?: string;
    from?: number;
    child?: ChildProcess;
    timeoutMs?: number;
    seen?: () => string;
  } = {},
): Promise<RegExpExecArray> {
  return eventually(
    () => {
      const m = pattern.exec(text().slice(opts.from ?? 0));
      if (m) return m;
      const child = opts.child;
      if (child && (child.exitCode !== null || child.signalCode !== null))
        throw new GiveUp(`the process ended (${String(child.exitCode ?? child.signalCode)}) first`);
      return undefined;
    },
    {
      what: opts.what ?? String(pattern),
      seen: opts.seen ?? text,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    },
  );
}

/** Resolves with the exit code once the child has exited (at once if it has). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
}
