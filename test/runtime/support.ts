import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeLogger } from '../../src/runtime/index.js';
import { systemClock, type Clock } from '../../src/platform/time.js';
import { ROOT } from '../helpers.js';
import { eventually } from '../support/eventually.js';

export const FAULT_SERVER = path.join(ROOT, 'test', 'fixtures', 'servers', 'fault-server.mjs');
export const BIN = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);

/** An environment variable that every process of one test inherits, to find them in /proc. */
export function marker(): { name: string; value: string; env: Record<string, string> } {
  const value = randomUUID();
  return { name: 'MCP_FLEET_TEST_MARKER', value, env: { MCP_FLEET_TEST_MARKER: value } };
}

interface Proc {
  pid: number;
  state: string;
  cmdline: string;
}

/** Processes in the process table that carry the marker, and zombies left unreaped by this process. */
export async function markedProcesses(value: string): Promise<Proc[]> {
  const found: Proc[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = afterName[0] ?? '?';
      const ppid = Number(afterName[1]);
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      const marked = environ.split('\0').includes(`MCP_FLEET_TEST_MARKER=${value}`);
      const ourZombie = state === 'Z' && ppid === process.pid;
      if (marked || ourZombie) {
        const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))
          .replace(/\0/g, ' ')
          .trim();
        found.push({ pid, state, cmdline });
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/**
 * Waits until no marked process is left (a killed group takes a moment to leave /proc); fails
 * loudly with the ones that are. `timeoutMs` is a backstop for a hang (default eventually's).
 */
export async function assertNoneLeft(value: string, timeoutMs?: number): Promise<void> {
  let left: Proc[] = [];
  await eventually(
    async () => {
      left = await markedProcesses(value);
      return left.length === 0;
    },
    {
      what: `no process marked ${value} to be left`,
      seen: () => `processes left behind: ${JSON.stringify(left)}`,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    },
  );
}

export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export class RecordingLog implements RuntimeLogger {
  readonly entries: { level: string; message: string; extra?: Record<string, unknown> }[] = [];
  debug = (message: string, extra?: Record<string, unknown>): void => {
    this.add('debug', message, extra);
  };
  info = (message: string, extra?: Record<string, unknown>): void => {
    this.add('info', message, extra);
  };
  warn = (message: string, extra?: Record<string, unknown>): void => {
    this.add('warn', message, extra);
  };
  error = (message: string, extra?: Record<string, unknown>): void => {
    this.add('error', message, extra);
  };
  private add(level: string, message: string, extra?: Record<string, unknown>): void {
    this.entries.push(extra === undefined ? { level, message } : { level, message, extra });
  }
  messages(level?: string): string[] {
    return this.entries.filter((e) => level === undefined || e.level === level).map((e) => e.message);
  }
}

export { lambdaContext } from '../support/lambda-context.js';

/**
 * The machine's timers and durations, with a wall time that stands still until the test steps it:
 * time passing (an idle process, a deadline) without waiting for it, however loaded the machine.
 */
export function steppedClock(): Clock & { step(ms: number): void } {
  let now = Date.now();
  return {
    ...systemClock,
    now: () => now,
    step: (ms) => {
      now += ms;
    },
  };
}

export const text = (result: unknown): string =>
  ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('');
