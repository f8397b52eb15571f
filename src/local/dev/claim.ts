/**
 * One `mcp-fleet dev` per config. Two of them on one config would share its work folder: each
 * function's launch file and log, the measurements `mcp-fleet plan` reads, and the state file
 * that `invoke` and `tools` follow (the first to stop would remove the other's). So `dev` claims
 * the config's files first: a claim file holding its process id, written whole beside it and
 * linked into place (a link fails when the name exists, so of two `dev`s one wins, and no one
 * reads a claim half written). A claim whose process is gone (a `dev` killed outright) is taken
 * over; two `dev`s that find the same stale claim at the same moment can both take it, a window
 * left open (it needs a killed `dev` and two new ones started at once).
 */
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';
import { processExists } from '../../platform/processes.js';

/** What the claim file holds. */
interface ClaimRecord {
  pid: number;
  config: string;
}

/** Another `dev` runs the same config. */
export class DevBusyError extends FleetError {
  constructor(
    readonly pid: number,
    config: string,
    url: string | undefined,
  ) {
    super(
      FLEET_ERROR.usage,
      `another mcp-fleet dev (process ${pid}${url === undefined ? ', still starting' : `, at ${url}`}) runs ${config}; stop it first, or run a copy of the config under another name (each config has its own files in .mcp-fleet)`,
    );
  }
}

/** The claim of a config's dev files, released when `dev` stops. */
export interface DevClaim {
  release(): Promise<void>;
}

async function readClaim(file: string): Promise<ClaimRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as Partial<ClaimRecord>;
    return typeof record.pid === 'number' && Number.isInteger(record.pid) && record.pid > 0
      ? { pid: record.pid, config: typeof record.config === 'string' ? record.config : '' }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The URL a running `dev` wrote into its state file, if it got that far. */
async function runningUrl(stateFile: string, pid: number): Promise<string | undefined> {
  try {
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { url?: unknown; pid?: unknown };
    return state.pid === pid && typeof state.url === 'string' ? state.url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims the config's dev files for this process (`claimFile`), or throws {@link DevBusyError}
 * naming the `dev` that holds them. A claim file that names no running process, or that cannot
 * be read (a `dev` killed while writing it), is stale and replaced.
 */
export async function claimDevFiles(claimFile: string, stateFile: string, config: string): Promise<DevClaim> {
  await mkdir(path.dirname(claimFile), { recursive: true });
  const record: ClaimRecord = { pid: process.pid, config };
  const whole = `${claimFile}.${process.pid}`;
  await writeFile(whole, `${JSON.stringify(record)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(whole, claimFile);
        return { release: () => releaseClaim(claimFile) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readClaim(claimFile);
      if (holder !== undefined && holder.pid !== process.pid && processExists(holder.pid))
        throw new DevBusyError(holder.pid, config, await runningUrl(stateFile, holder.pid));
      if (attempt > 0)
        throw new FleetError(
          FLEET_ERROR.failed,
          `${claimFile} could not be replaced (it names no running mcp-fleet dev); remove it and start again`,
        );
      await rm(claimFile, { force: true });
    }
  } finally {
    await rm(whole, { force: true });
  }
}

/** Removes the claim file if it is still this process's. */
async function releaseClaim(claimFile: string): Promise<void> {
  const holder = await readClaim(claimFile);
  if (holder?.pid === process.pid) await rm(claimFile, { force: true });
}
