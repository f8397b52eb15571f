import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/** Lines of an installer's output kept for the error message. */
const TAIL_LINES = 40;

/** A build step failed: names the server, the command, and shows the end of its output. */
export class BuildError extends FleetError {
  constructor(
    readonly serverId: string,
    message: string,
    /** The last lines the installer printed. */
    readonly output: string[] = [],
    /** Where the whole output is. */
    readonly logFile?: string,
  ) {
    super(FLEET_ERROR.buildFailed, message);
    this.name = 'BuildError';
  }

  /** The message with the installer's output, for a terminal. */
  get detail(): string {
    const lines = [`${this.serverId}: ${this.message}`];
    if (this.output.length > 0) lines.push(...this.output.map((l) => `  | ${l}`));
    if (this.logFile !== undefined) lines.push(`  (whole output: ${this.logFile})`);
    return lines.join('\n');
  }
}

export interface ExecOptions {
  serverId: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Appends the command and its output here. */
  logFile: string;
  /** Each output line, for a progress display. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  /** What the step is, for the error message (default: the command line). */
  what?: string;
}

/**
 * Runs an installer or compiler, its output going to the log file; resolves with its stdout.
 * Rejects with a {@link BuildError} carrying the last lines of its output when it fails.
 */
export function exec(command: string, args: readonly string[], opts: ExecOptions): Promise<string> {
  const line = [command, ...args].join(' ');
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`$ ${line}\n`);
  const tail: string[] = [];
  let stdout = '';
  const keep = (chunk: string, partial: { rest: string }): void => {
    const text = partial.rest + chunk;
    const lines = text.split(/\r?\n|\r/);
    partial.rest = lines.pop() ?? '';
    for (const l of lines) {
      if (l.trim() === '') continue;
      tail.push(l);
      if (tail.length > TAIL_LINES) tail.shift();
      opts.onLine?.(l);
    }
  };
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const out = { rest: '' };
    const err = { rest: '' };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      stdout += c;
      log.write(c);
      keep(c, out);
    });
    child.stderr.on('data', (c: string) => {
      log.write(c);
      keep(c, err);
    });
    let finished = false;
    const finish = (error: Error | undefined): void => {
      if (finished) return;
      finished = true;
      for (const rest of [out.rest, err.rest]) if (rest.trim() !== '') tail.push(rest);
      log.end(() => {
        if (error) reject(error);
        else resolve(stdout);
      });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ENOENT'
          ? `${command} is not installed or not on PATH (needed to ${opts.what ?? 'build'})`
          : `${opts.what ?? line} could not run: ${e.message}`;
      finish(new BuildError(opts.serverId, why, tail.slice(-TAIL_LINES), opts.logFile));
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        finish(undefined);
        return;
      }
      const how = signal !== null ? `was killed by ${signal}` : `failed with exit code ${String(code)}`;
      finish(
        new BuildError(opts.serverId, `${opts.what ?? line} ${how}`, tail.slice(-TAIL_LINES), opts.logFile),
      );
    });
  });
}
