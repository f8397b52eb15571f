/** What every stager writes or runs the same way: the handler, the launch spec, installers. */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toLaunchSpec, type LaunchSpec, type ServerConfig } from '../../config/model.js';
import { LAUNCH_FILE_NAME } from '../../contract/function-env.js';
import { exec, type ExecOptions } from '../exec.js';
import type { StageOptions } from './types.js';

/** The Lambda base image of container functions (the Node.js runtime, as zip functions use). */
export const LAMBDA_NODE_IMAGE = 'public.ecr.aws/lambda/nodejs:22';

/** Writes the handler and the launch spec into a function root. */
export async function writeHandler(
  root: string,
  server: ServerConfig,
  handlerBundle: string,
  launchPath: string[],
): Promise<string> {
  await mkdir(root, { recursive: true });
  await copyFile(handlerBundle, path.join(root, 'index.mjs'));
  return writeLaunch(root, server, launchPath);
}

export async function writeLaunch(root: string, server: ServerConfig, launchPath: string[]): Promise<string> {
  const spec: LaunchSpec = { ...toLaunchSpec(server), path: launchPath };
  const file = path.join(root, LAUNCH_FILE_NAME);
  await writeFile(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}

/**
 * Runs an installer for the staged server in `cwd`: this process's environment plus `env`, its
 * output to the build log and `opts.onLine`, cancelled by `opts.signal`.
 */
export function runInstaller(
  opts: StageOptions,
  cwd: string,
  command: string,
  args: readonly string[],
  what: string,
  env: Record<string, string> = {},
): Promise<string> {
  const options: ExecOptions = {
    serverId: opts.server.id,
    cwd,
    env: { ...process.env, ...env },
    logFile: opts.logFile,
    what,
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  return exec(command, args, options);
}

/** The Dockerfile lines that install the server's `system` packages (none without). */
export function systemPackages(server: ServerConfig): string[] {
  if (server.system.length === 0) return [];
  return [`RUN dnf install -y ${server.system.join(' ')} && dnf clean all && rm -rf /var/cache/dnf`];
}
