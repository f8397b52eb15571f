/**
 * `mcp-fleet dev --sandbox`: each built zip function runs in the Lambda-like sandbox
 * (sandbox.ts) — its function folder read-only at /var/task, /tmp the only writable place,
 * Lambda's base tools and environment variables only — so a server that writes outside /tmp, or
 * needs a program or file the function does not carry, fails here with the path in the error
 * rather than after `deploy`.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FleetConfig, LaunchSpec, ServerConfig } from '../../config/model.js';
import { FUNCTION_ENV, LAUNCH_FILE_NAME } from '../../contract/function-env.js';
import type { WorkerLaunch } from './environment.js';
import { NODE_22, WORKER_FILE } from './files.js';
import type { LocalFunction } from './function.js';
import { lambdaEnvironment, sandboxLaunch, sandboxUnavailable, SandboxUnavailableError } from './sandbox.js';

/** Inside the sandbox: the worker, and the launch spec the dev fleet wrote for the function. */
const WORKER_IN_SANDBOX = '/var/runtime/mcp-fleet/worker.js';
const LAUNCH_IN_SANDBOX = '/var/runtime/mcp-fleet/launch.json';

export interface SandboxPlan {
  /** By server id: the function folders that run in the sandbox. */
  roots: Record<string, string>;
  /** By server id: PATH folders of those functions, as the sandbox sees them. */
  launchPaths: Record<string, string[]>;
  /** Servers that run outside the sandbox, and why. */
  outside: { id: string; why: string }[];
  /** Starts the environments of sandboxed functions in the sandbox. */
  launcher: (fn: LocalFunction, worker: WorkerLaunch) => WorkerLaunch;
}

const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Why a server cannot run in the sandbox, or its function folder. */
async function functionRoot(
  server: ServerConfig,
  buildDir: string,
): Promise<{ root: string } | { why: string }> {
  const dir = path.join(buildDir, server.id);
  const manifest = await readJson<{ artifact?: { kind: string; dir: string } }>(
    path.join(dir, 'manifest.json'),
  );
  if (manifest?.artifact === undefined)
    return { why: 'it is not built (mcp-fleet build stages the function the sandbox runs)' };
  if (manifest.artifact.kind !== 'zip')
    return { why: 'a container-image function: its image cannot be built or run here' };
  if (server.package?.kind === 'go' && server.aws.architecture !== HOST_ARCH)
    return { why: `its binary is built for ${server.aws.architecture}; this machine is ${HOST_ARCH}` };
  const root = path.join(dir, manifest.artifact.dir);
  if (!existsSync(path.join(root, 'index.mjs')))
    return { why: `${root} has no handler (index.mjs): build it again` };
  return { root };
}

/** Which functions run in the sandbox, and how. Throws when the sandbox cannot run here. */
export async function planSandbox(config: FleetConfig, buildDir: string): Promise<SandboxPlan> {
  const why = sandboxUnavailable();
  if (why !== undefined) throw new SandboxUnavailableError(why);
  const roots: Record<string, string> = {};
  const launchPaths: Record<string, string[]> = {};
  const outside: SandboxPlan['outside'] = [];
  for (const server of config.servers) {
    if (!server.enabled) continue;
    const found = await functionRoot(server, buildDir);
    if ('why' in found) {
      outside.push({ id: server.id, why: found.why });
      continue;
    }
    roots[server.id] = found.root;
    const built = await readJson<LaunchSpec>(path.join(found.root, LAUNCH_FILE_NAME));
    launchPaths[server.id] = (built?.path ?? []).map((p) => path.posix.resolve('/var/task', p));
  }
  const node = existsSync(NODE_22) ? NODE_22 : process.execPath;
  const launcher = (fn: LocalFunction, worker: WorkerLaunch): WorkerLaunch => {
    const root = roots[fn.server.id];
    if (root === undefined) return worker;
    const rootDir = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-sandbox-'));
    // From the developer's environment: Powertools settings, mcp-fleet's own variables and AWS
    // credentials (the role's stand-in); nothing else.
    const passed = Object.fromEntries(
      Object.entries(worker.env).filter(
        (e): e is [string, string] =>
          e[1] !== undefined &&
          (/^(POWERTOOLS_|MCP_FLEET_)/.test(e[0]) ||
            // Secrets taken from the developer's environment (the runtime reads them from its own).
            fn.localSecrets.includes(e[0]) ||
            ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL'].includes(
              e[0],
            )),
      ),
    );
    // A web function's root is its own HTTP server (index.mjs), run by Node.js 24; no worker.
    const web = fn.server.hosting.host === 'web-function';
    const launch = sandboxLaunch({
      rootDir,
      taskRoot: root,
      mounts: [
        { target: '/var/lang/bin/node', source: web ? worker.command : node },
        ...(web ? [] : [{ target: WORKER_IN_SANDBOX, source: WORKER_FILE }]),
        { target: LAUNCH_IN_SANDBOX, source: fn.launchSpecFile },
      ],
      command: '/var/lang/bin/node',
      args: [web ? '/var/task/index.mjs' : WORKER_IN_SANDBOX],
      env: {
        ...lambdaEnvironment({
          functionName: fn.name,
          memoryMb: fn.memoryMb,
          timeoutSeconds: fn.server.timeout,
          region: worker.env['AWS_REGION'] ?? 'us-east-1',
        }),
        ...passed,
        [FUNCTION_ENV.handler]: '/var/task/index.mjs',
        [FUNCTION_ENV.launchFile]: LAUNCH_IN_SANDBOX,
        [FUNCTION_ENV.serviceName]: fn.name,
      },
    });
    return {
      command: launch.command,
      args: launch.args,
      env: launch.env,
      cwd: '/',
      // Each environment is its own sandbox: a fresh tmpfs at /tmp, gone with its mount namespace.
      tmp: 'mount',
      dispose: () => rm(rootDir, { recursive: true, force: true }),
    };
  };
  return { roots, launchPaths, outside, launcher };
}
