/**
 * synth / diff / deploy / destroy of the fleet's stack through @aws-cdk/toolkit-lib: no global
 * CDK CLI needed. The stack is defined from the build folder (`mcp-fleet build`'s output).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NonInteractiveIoHost, StackSelectionStrategy, Toolkit } from '@aws-cdk/toolkit-lib';
import type { IIoHost, IoMessage, IoRequest } from '@aws-cdk/toolkit-lib';
import type { FleetConfig } from '../config/model.js';
import type { ServerManifest } from '../build/build.js';
import type { LoweredTool } from '../build/tools.js';
import { interceptorDir } from '../build/interceptor.js';
import { synthFleet, type SynthResult } from '../infra/synth.js';
import type { BuiltServer } from '../infra/types.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/** The fleet's servers as the last build left them, ready for the stack. */
export async function loadBuiltServers(fleet: FleetConfig, buildDir: string): Promise<BuiltServer[]> {
  const servers: BuiltServer[] = [];
  const missing: string[] = [];
  for (const server of fleet.servers.filter((s) => s.enabled)) {
    const dir = path.join(buildDir, server.id);
    const manifestFile = path.join(dir, 'manifest.json');
    if (!existsSync(manifestFile)) {
      missing.push(server.id);
      continue;
    }
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as ServerManifest;
    const toolsFile = path.join(dir, 'tools.lowered.json');
    const tools = JSON.parse(await readFile(toolsFile, 'utf8')) as LoweredTool[];
    servers.push({
      server,
      artifact: { kind: manifest.artifact.kind, dir: path.join(dir, manifest.artifact.dir) },
      tools,
      toolsFile,
    });
  }
  if (missing.length > 0) {
    throw new Error(`not built: ${missing.join(', ')}; run mcp-fleet build first (${buildDir})`);
  }
  return servers;
}

export function synthStack(
  fleet: FleetConfig,
  servers: BuiltServer[],
  outdir: string,
  buildDir?: string,
): SynthResult {
  // The interceptors' function folders, where the build wrote them.
  const interceptorDirs = Object.fromEntries(
    Object.values(fleet.gateway.interceptors ?? {}).flatMap((i) =>
      buildDir === undefined ? [] : [[i.point, interceptorDir(buildDir, i.point)]],
    ),
  );
  return synthFleet({
    fleet,
    servers,
    outdir,
    interceptorDirs,
    ...(fleet.region !== undefined ? { env: { region: fleet.region } } : {}),
    description: `mcp-fleet: ${fleet.servers.filter((s) => s.enabled).length} MCP servers behind the AgentCore gateway ${fleet.gateway.name}`,
  });
}

/** Thrown when no AWS credentials can be found (before anything is contacted). */
export class MissingCredentialsError extends FleetError {
  constructor(cause: unknown) {
    super(
      FLEET_ERROR.credentialsMissing,
      'no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; `mcp-fleet synth` needs none',
      { cause },
    );
    this.name = 'MissingCredentialsError';
  }
}

/** Resolves credentials the way the AWS SDK will, failing early with a clear message. */
export async function checkCredentials(): Promise<void> {
  try {
    await fromNodeProviderChain({ timeout: 2000, maxRetries: 0 })();
  } catch (err) {
    throw new MissingCredentialsError(err);
  }
}

/**
 * An IoHost that prints the toolkit's messages at info and above to stderr (progress) and answers
 * confirmations with the caller's choice.
 */
class FleetIoHost implements IIoHost {
  private readonly inner = new NonInteractiveIoHost({ logLevel: 'info' });
  constructor(private readonly confirm: boolean) {}
  notify(msg: IoMessage<unknown>): Promise<void> {
    return this.inner.notify(msg);
  }
  requestResponse<T>(msg: IoRequest<unknown, T>): Promise<T> {
    if (typeof msg.defaultResponse === 'boolean') return Promise.resolve(this.confirm as T);
    return this.inner.requestResponse(msg);
  }
}

export interface ToolkitRunOptions {
  /** Answer yes to the toolkit's confirmations (destroy, security changes). */
  yes?: boolean;
}

function toolkit(opts: ToolkitRunOptions): Toolkit {
  return new Toolkit({ ioHost: new FleetIoHost(opts.yes === true), emojis: false });
}

const allStacks = { strategy: StackSelectionStrategy.ALL_STACKS };

export async function diffAssembly(assemblyDir: string, opts: ToolkitRunOptions = {}): Promise<void> {
  await checkCredentials();
  const tk = toolkit(opts);
  await tk.diff(await tk.fromAssemblyDirectory(assemblyDir), { stacks: allStacks });
}

export async function deployAssembly(
  assemblyDir: string,
  opts: ToolkitRunOptions & { outputsFile?: string } = {},
): Promise<Record<string, string>> {
  await checkCredentials();
  const tk = toolkit(opts);
  const result = await tk.deploy(await tk.fromAssemblyDirectory(assemblyDir), {
    stacks: allStacks,
    ...(opts.outputsFile !== undefined ? { outputsFile: opts.outputsFile } : {}),
  });
  return Object.assign({}, ...result.stacks.map((s) => s.outputs)) as Record<string, string>;
}

export async function destroyAssembly(assemblyDir: string, opts: ToolkitRunOptions = {}): Promise<void> {
  await checkCredentials();
  const tk = toolkit(opts);
  await tk.destroy(await tk.fromAssemblyDirectory(assemblyDir), { stacks: allStacks });
}
