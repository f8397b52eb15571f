import type { FleetConfig } from '../../config/index.js';
import { FleetError } from '../../contract/errors.js';
import {
  DevConfigError,
  DevOptionsError,
  DevSession,
  devSettings,
  type DevBuildResult,
  type DevHost,
  type DevOptions,
  type DevSettings,
} from '../../local/dev/session.js';
import { CliError, EXIT } from '../exit.js';
import { lockLines, runBuild } from './build.js';

export type { DevOptions } from '../../local/dev/session.js';

/** The session's build: `mcp-fleet build`'s code and task list (silent with --json: stdout is JSON). */
function builder(
  settings: DevSettings,
  out: (line: string) => void,
  err: (line: string) => void,
): DevHost['build'] {
  return async (config: FleetConfig, ids: readonly string[]): Promise<DevBuildResult> => {
    const result = await runBuild(config, {
      only: [...ids],
      ...(settings.plain ? { plain: true } : {}),
      ...(settings.json ? { silent: true } : {}),
    });
    for (const f of result.failed) err(`FAILED ${f.detail}`);
    for (const line of lockLines(result.lock, settings.configFile)) (settings.json ? err : out)(line);
    return {
      built: result.built.map((b) => b.server.id),
      staged: result.built.filter((b) => b.staged).map((b) => b.server.id),
      failed: result.failed.map((f) => ({ id: f.serverId, reason: f.message })),
    };
  };
}

/** Resolves with the signal that asked to stop (Ctrl-C, or SIGTERM). */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
  });
}

/**
 * A line writer that gathers what is written in one turn of the event loop into one write: under
 * load a call line per call would otherwise be a write system call per call. Flushed at exit.
 */
function coalesced(stream: NodeJS.WriteStream): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  process.once('exit', flush);
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${line}\n`);
  };
}

/** `mcp-fleet dev`: the options read once, then the session started, run until a signal, stopped. */
export async function devCommand(options: DevOptions): Promise<number> {
  let settings: DevSettings;
  try {
    settings = await devSettings(options);
  } catch (err) {
    if (err instanceof DevOptionsError) throw new CliError(err.message, EXIT.USAGE);
    throw err;
  }
  const out = coalesced(process.stdout);
  const err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const session = new DevSession(settings, { build: builder(settings, out, err), out, err });
  try {
    await session.start();
  } catch (e) {
    // What did start (a fleet whose state file could not be written) is stopped again.
    await session.stop();
    if (e instanceof DevConfigError) throw new CliError(e.message);
    throw new CliError(e instanceof FleetError || e instanceof Error ? e.message : String(e));
  }
  // Listening from the microtask after the ready line: no signal can be handled in between.
  await session.stop(await stopSignal());
  return EXIT.OK;
}
