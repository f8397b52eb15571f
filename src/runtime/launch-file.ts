/**
 * The launch spec of a deployed function, as its entries read it (the Lambda handler, lambda.ts,
 * and the Web Function server, web.ts): `launch.json` beside the entry file (the function root),
 * or the file MCP_FLEET_LAUNCH_FILE names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTION_ENV, LAUNCH_FILE_NAME } from '../contract/function-env.js';
import type { LaunchInput } from './handler.js';

/** The launch file: MCP_FLEET_LAUNCH_FILE, else `launch.json` beside the entry (`import.meta.url`). */
export function launchFilePath(entryUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[FUNCTION_ENV.launchFile];
  if (explicit !== undefined && explicit !== '') return explicit;
  return path.join(path.dirname(fileURLToPath(entryUrl)), LAUNCH_FILE_NAME);
}

/**
 * Reads the launch spec; throws a clear error when it cannot. A staged function keeps its
 * server's executables in folders relative to the launch file (`path`): they go in front of PATH.
 */
export function readLaunchFile(
  entryUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; launch: LaunchInput } {
  const file = launchFilePath(entryUrl, env);
  let launch: LaunchInput;
  try {
    launch = JSON.parse(readFileSync(file, 'utf8')) as LaunchInput;
  } catch (err) {
    throw new Error(`mcp-fleet: cannot read the launch spec ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (launch.path !== undefined && launch.path.length > 0) {
    const dirs = launch.path.map((d) => path.resolve(path.dirname(file), d));
    launch.env = {
      ...launch.env,
      PATH: [...dirs, launch.env?.['PATH'] ?? env['PATH'] ?? ''].join(':'),
    };
  }
  return { file, launch };
}
