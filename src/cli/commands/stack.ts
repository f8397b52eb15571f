import path from 'node:path';
import { defaultBuildDir } from '../../build/build.js';
import type { FleetConfig } from '../../config/model.js';
import {
  checkCredentials,
  deployAssembly,
  destroyAssembly,
  diffAssembly,
  loadBuiltServers,
  MissingCredentialsError,
  synthStack,
} from '../../deploy/deploy.js';
import { NagCheckError } from '../../infra/synth.js';
import { OUTPUTS } from '../../infra/stack.js';
import { CliError } from '../exit.js';
import { loadValidConfig } from '../load-config.js';
import { lockLines, runBuild } from './build.js';

export interface StackCommandOptions {
  config: string;
  /** Build folder (default: the config's, see fleetPaths). */
  buildDir?: string;
  /** Cloud assembly folder (default cdk.out beside the config). */
  out?: string;
  /** Run `build` first (incremental). Default true. */
  build?: boolean;
  yes?: boolean;
  json?: boolean;
}

export function defaultAssemblyDir(fleet: FleetConfig): string {
  return path.join(path.dirname(fleet.file), 'cdk.out');
}

/** Builds (incrementally, unless --no-build) and synthesizes; returns the assembly folder. */
async function synthesize(
  fleet: FleetConfig,
  opts: StackCommandOptions,
  outdir: string,
): Promise<{ assemblyDir: string; templateFile: string; resources: number; warnings: number }> {
  const buildDir = opts.buildDir ?? defaultBuildDir(fleet);
  if (opts.build !== false) {
    const built = await runBuild(fleet, { out: buildDir, ...(opts.json === true ? { silent: true } : {}) });
    if (opts.json !== true)
      for (const line of lockLines(built.lock, opts.config)) process.stdout.write(`${line}\n`);
    if (built.failed.length > 0) {
      throw new CliError(
        `the build failed, nothing was synthesized:\n${built.failed.map((f) => f.detail).join('\n')}`,
      );
    }
  }
  try {
    const result = synthStack(fleet, await loadBuiltServers(fleet, buildDir), outdir, buildDir);
    const resources = Object.keys(
      (result.template['Resources'] as Record<string, unknown> | undefined) ?? {},
    ).length;
    return {
      assemblyDir: result.assemblyDir,
      templateFile: result.templateFile,
      resources,
      warnings: result.nagWarnings.length,
    };
  } catch (err) {
    if (err instanceof NagCheckError) throw new CliError(err.message);
    throw new CliError((err as Error).message);
  }
}

/** Without credentials, diff/deploy/destroy stop before building or synthesizing anything. */
function credentialsError(err: unknown): never {
  if (err instanceof MissingCredentialsError) throw new CliError(err.message);
  throw err;
}

export async function synthCommand(opts: StackCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  const out = path.resolve(opts.out ?? defaultAssemblyDir(fleet));
  const r = await synthesize(fleet, opts, out);
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify({ stack: fleet.stack, ...r }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `synthesized ${fleet.stack}: ${r.resources} resources, cdk-nag AwsSolutions clean (${r.warnings} warnings acknowledged or left)\n  template: ${path.relative(process.cwd(), r.templateFile)}\n  deploy with: mcp-fleet deploy --config ${opts.config}   (or: npx cdk deploy --app ${path.relative(process.cwd(), r.assemblyDir)})\n`,
    );
  }
  return 0;
}

export async function diffCommand(opts: StackCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  await checkCredentials().catch(credentialsError);
  const r = await synthesize(fleet, opts, path.resolve(opts.out ?? defaultAssemblyDir(fleet)));
  await diffAssembly(r.assemblyDir, { yes: opts.yes === true }).catch(credentialsError);
  return 0;
}

export async function deployCommand(opts: StackCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  await checkCredentials().catch(credentialsError);
  const r = await synthesize(fleet, opts, path.resolve(opts.out ?? defaultAssemblyDir(fleet)));
  const outputsFile = path.join(r.assemblyDir, 'outputs.json');
  const outputs = await deployAssembly(r.assemblyDir, { yes: opts.yes === true, outputsFile }).catch(
    credentialsError,
  );
  const url = outputs[OUTPUTS.gatewayUrl];
  process.stdout.write(
    `\ndeployed ${fleet.stack}${url !== undefined ? `; gateway: ${url}` : ''}\n  check it with: mcp-fleet verify --config ${opts.config} --region <region>\n`,
  );
  return 0;
}

export async function destroyCommand(opts: StackCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  if (opts.yes !== true) {
    throw new CliError(
      `destroy deletes stack ${fleet.stack} and every function of the fleet; run it again with --yes`,
    );
  }
  await checkCredentials().catch(credentialsError);
  const r = await synthesize(fleet, { ...opts }, path.resolve(opts.out ?? defaultAssemblyDir(fleet)));
  await destroyAssembly(r.assemblyDir, { yes: true }).catch(credentialsError);
  process.stdout.write(`destroyed ${fleet.stack}\n`);
  return 0;
}

/**
 * `cdk.json`'s app: synthesizes into the folder the CDK CLI gives (CDK_OUTDIR), from the build
 * folder, so `npx cdk deploy` works as well.
 */
export async function cdkAppCommand(opts: StackCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  const outdir = process.env['CDK_OUTDIR'] ?? opts.out ?? defaultAssemblyDir(fleet);
  await synthesize(fleet, { ...opts, json: true }, path.resolve(outdir));
  return 0;
}
