/** npm servers: installed for Linux and the function's CPU into a zip function root. */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServerConfig } from '../../config/model.js';
import type { PackageSpec } from '../../config/package-spec.js';
import { BuildError } from '../exec.js';
import { runInstaller, writeHandler } from './files.js';
import type { Stager } from './types.js';

type NpmPackage = Extract<PackageSpec, { kind: 'npm' }>;

export const stageNpm: Stager<'npm'> = async (opts, pkg) => {
  const { server } = opts;
  const root = path.join(opts.dir, 'function');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const manifest = {
    name: `mcp-fleet-function-${server.id}`,
    private: true,
    description: `${server.functionName}: ${pkg.spec}`,
    dependencies: { [pkg.name]: pkg.version },
  };
  await writeFile(path.join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const reuse =
    opts.lock?.package === pkg.spec &&
    opts.lock.architecture === server.aws.architecture &&
    opts.lock.npmLock !== undefined;
  if (reuse)
    await writeFile(path.join(root, 'package-lock.json'), JSON.stringify(opts.lock?.npmLock, null, 2));
  const verb = reuse ? 'ci' : 'install';
  const cpu = server.aws.architecture === 'arm64' ? 'arm64' : 'x64';
  const args = [verb, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--os=linux'];
  args.push(`--cpu=${cpu}`, '--loglevel=warn');
  await runInstaller(opts, root, 'npm', args, `npm ${verb} ${pkg.spec}`, {
    npm_config_update_notifier: 'false',
  });
  await writeBins(root, server, pkg);
  const hostLaunch = await writeHandler(root, server, opts.handlerBundle, ['bin']);
  const npmLock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { version?: string }>;
  };
  return {
    artifact: { kind: 'zip', dir: root },
    hostLaunch,
    lock: {
      kind: 'npm',
      package: pkg.spec,
      architecture: server.aws.architecture,
      resolved: resolvedPackages(npmLock.packages ?? {}),
      npmLock,
    },
  };
};

/**
 * The package's executables as real files in `bin/` (rather than node_modules/.bin symlinks,
 * which a zip may not keep); the server's command must be one of them (or `node`).
 */
async function writeBins(root: string, server: ServerConfig, pkg: NpmPackage): Promise<void> {
  const pkgDir = path.join(root, 'node_modules', ...pkg.name.split('/'));
  const meta = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const bins: Record<string, string> =
    typeof meta.bin === 'string' ? { [pkg.name.split('/').pop() ?? pkg.name]: meta.bin } : (meta.bin ?? {});
  if (server.command !== 'node' && bins[server.command] === undefined) {
    const has = Object.keys(bins);
    throw new BuildError(
      server.id,
      `command "${server.command}" is not an executable of ${pkg.spec} (${has.length > 0 ? `it has: ${has.join(', ')}` : 'it has none'}); set command to one of them`,
    );
  }
  const binDir = path.join(root, 'bin');
  await mkdir(binDir, { recursive: true });
  for (const [name, file] of Object.entries(bins)) {
    const target = path.posix.join('..', 'node_modules', pkg.name, file);
    const script = `#!/bin/sh\nexec node "$(dirname "$0")/${target}" "$@"\n`;
    await writeFile(path.join(binDir, name), script);
    await chmod(path.join(binDir, name), 0o755);
  }
}

/** Every installed package of npm's lock, `name@version`, sorted and once each. */
function resolvedPackages(packages: Record<string, { version?: string }>): string[] {
  const prefix = 'node_modules/';
  const resolved = Object.entries(packages)
    .filter(([p]) => p.startsWith(prefix))
    .map(([p, v]) => `${p.slice(p.lastIndexOf(prefix) + prefix.length)}@${v.version ?? '?'}`)
    .sort();
  return [...new Set(resolved)];
}
