/**
 * Staging: each server installed at build time into a function root (zip) or a container build
 * context (image), plus a host-platform install used to run and inspect it on this machine.
 * Nothing is downloaded when a function starts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toLaunchSpec, type LaunchSpec, type ServerConfig } from '../config/model.js';
import type { PackageSpec } from '../config/package-spec.js';
import { BuildError, exec } from './exec.js';

const run = promisify(execFile);

/** The Lambda base image of container functions (the Node.js runtime, as zip functions use). */
export const LAMBDA_NODE_IMAGE = 'public.ecr.aws/lambda/nodejs:22';
/** uv installs Python and the server's packages in the image (pinned). */
export const UV_IMAGE = 'ghcr.io/astral-sh/uv:0.13.9';
/** Where a container function keeps its Python environment. */
const IMAGE_VENV = '/opt/venv';

/** What a previous build recorded for a server (see lock.ts). */
export interface LockEntry {
  kind: PackageSpec['kind'];
  package: string;
  architecture: 'arm64' | 'x86_64';
  /** Every installed package, pinned (`name@version`, `name==version`, `module@version`). */
  resolved: string[];
  /** npm's own lock of the function's node_modules, restored for `npm ci`. */
  npmLock?: unknown;
  /** go.sum of the build module. */
  goSum?: string;
  /** Python version (major.minor) the packages were resolved with. */
  python?: string;
  /** The config's extra constraints the set was resolved under. */
  constraints?: string[];
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export type Artifact =
  /** Function root: index.mjs (the handler), launch.json, node_modules/ or bin/. */
  | { kind: 'zip'; dir: string }
  /** Container build context: a Dockerfile whose image runs the handler. */
  | { kind: 'image'; dir: string };

export interface StageOptions {
  server: ServerConfig;
  /** The server's build folder, `<build>/<id>`. */
  dir: string;
  /** The runtime handler bundle every function carries. */
  handlerBundle: string;
  /** The lock entry of the previous build, reused when the package is unchanged. */
  lock?: LockEntry;
  logFile: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

export interface StageResult {
  artifact: Artifact;
  /** A launch file that runs the server on this machine; absent when it cannot run here. */
  hostLaunch?: string;
  /** Why there is no host launch. */
  hostMissing?: string;
  lock: LockEntry;
}

/** Stages one server according to its package kind. */
export async function stageServer(opts: StageOptions): Promise<StageResult> {
  const pkg = opts.server.package;
  if (pkg === undefined) {
    throw new BuildError(
      opts.server.id,
      'has no "package": nothing to install into its function; add package: {npm|pypi|go|image: ...} with a pinned version',
    );
  }
  await mkdir(opts.dir, { recursive: true });
  await rm(opts.logFile, { force: true });
  switch (pkg.kind) {
    case 'npm':
      return stageNpm(opts, pkg);
    case 'go':
      return stageGo(opts, pkg);
    case 'pypi':
      return stagePypi(opts, pkg);
    case 'image':
      return stageImage(opts, pkg);
  }
}

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
  const file = path.join(root, 'launch.json');
  await writeFile(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}

const installerEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  ...extra,
});

// ---------------------------------------------------------------- npm

async function stageNpm(
  opts: StageOptions,
  pkg: Extract<PackageSpec, { kind: 'npm' }>,
): Promise<StageResult> {
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
  const cpu = server.aws.architecture === 'arm64' ? 'arm64' : 'x64';
  await exec(
    'npm',
    [
      reuse ? 'ci' : 'install',
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--os=linux',
      `--cpu=${cpu}`,
      '--loglevel=warn',
    ],
    {
      serverId: server.id,
      cwd: root,
      env: installerEnv({ npm_config_update_notifier: 'false' }),
      logFile: opts.logFile,
      what: `npm ${reuse ? 'ci' : 'install'} ${pkg.spec}`,
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
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
  // Real files rather than node_modules/.bin symlinks, which a zip may not keep.
  const binDir = path.join(root, 'bin');
  await mkdir(binDir, { recursive: true });
  for (const [name, file] of Object.entries(bins)) {
    const target = path.posix.join('..', 'node_modules', pkg.name, file);
    const script = `#!/bin/sh\nexec node "$(dirname "$0")/${target}" "$@"\n`;
    await writeFile(path.join(binDir, name), script);
    await chmod(path.join(binDir, name), 0o755);
  }
  const hostLaunch = await writeHandler(root, server, opts.handlerBundle, ['bin']);
  const npmLock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { version?: string }>;
  };
  const resolved = Object.entries(npmLock.packages ?? {})
    .filter(([p]) => p.startsWith('node_modules/'))
    .map(
      ([p, v]) => `${p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${v.version ?? '?'}`,
    )
    .sort();
  return {
    artifact: { kind: 'zip', dir: root },
    hostLaunch,
    lock: {
      kind: 'npm',
      package: pkg.spec,
      architecture: server.aws.architecture,
      resolved: [...new Set(resolved)],
      npmLock,
    },
  };
}

// ---------------------------------------------------------------- Go

const goArch = (a: 'arm64' | 'x86_64'): string => (a === 'arm64' ? 'arm64' : 'amd64');
const hostGoArch = (): string => (os.arch() === 'x64' ? 'amd64' : os.arch());

async function stageGo(opts: StageOptions, pkg: Extract<PackageSpec, { kind: 'go' }>): Promise<StageResult> {
  const { server } = opts;
  const root = path.join(opts.dir, 'function');
  const work = path.join(opts.dir, 'go');
  await rm(root, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const binary = pkg.module.split('/').pop() ?? 'server';
  if (server.command !== binary && server.command !== `./bin/${binary}`) {
    throw new BuildError(
      server.id,
      `command "${server.command}" is not the executable ${pkg.module} builds ("${binary}"); set command: ${binary}`,
    );
  }
  const base = {
    serverId: server.id,
    cwd: work,
    logFile: opts.logFile,
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  await writeFile(
    path.join(work, 'go.mod'),
    `module mcpfleet.local/stage/${server.id.replace(/[^\w-]/g, '-')}\n`,
  );
  if (opts.lock?.package === pkg.spec && opts.lock.goSum !== undefined)
    await writeFile(path.join(work, 'go.sum'), opts.lock.goSum);
  await exec('go', ['get', `${pkg.module}@${pkg.version}`], {
    ...base,
    env: installerEnv({ GOFLAGS: '-mod=mod -buildvcs=false' }),
    what: `go get ${pkg.spec}`,
  });
  const build = async (goos: string, arch: string, out: string): Promise<void> => {
    await exec('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', out, pkg.module], {
      ...base,
      env: installerEnv({ CGO_ENABLED: '0', GOOS: goos, GOARCH: arch, GOFLAGS: '-mod=mod -buildvcs=false' }),
      what: `go build ${pkg.module} for ${goos}/${arch}`,
    });
  };
  await build('linux', goArch(server.aws.architecture), path.join(root, 'bin', binary));
  const functionLaunch = await writeHandler(root, server, opts.handlerBundle, ['bin']);
  let hostLaunch = functionLaunch;
  if (os.platform() !== 'linux' || hostGoArch() !== goArch(server.aws.architecture)) {
    const host = path.join(opts.dir, 'host');
    await rm(host, { recursive: true, force: true });
    await build(os.platform(), hostGoArch(), path.join(host, 'bin', binary));
    hostLaunch = await writeLaunch(host, server, ['bin']);
  }
  const goSum = await readFile(path.join(work, 'go.sum'), 'utf8').catch(() => '');
  const goMod = await readFile(path.join(work, 'go.mod'), 'utf8');
  const resolved = [...goMod.matchAll(/^\s*(?:require\s+)?([\w./~-]+\.[\w./~-]+)\s+(v[\w.+-]+)/gm)].map(
    (m) => `${m[1] ?? ''}@${m[2] ?? ''}`,
  );
  return {
    artifact: { kind: 'zip', dir: root },
    hostLaunch,
    lock: { kind: 'go', package: pkg.spec, architecture: server.aws.architecture, resolved, goSum },
  };
}

// ---------------------------------------------------------------- PyPI

/** Finds a Python interpreter of that version (major.minor), or the default python3. */
export async function findPython(version: string | undefined): Promise<{ exe: string; version: string }> {
  const candidates = version !== undefined ? [`python${version}`] : ['python3'];
  if (version !== undefined) {
    const pyenv = process.env['PYENV_ROOT'] ?? path.join(os.homedir(), '.pyenv');
    const versions = await readdir(path.join(pyenv, 'versions')).catch(() => [] as string[]);
    for (const v of versions
      .filter((v) => v === version || v.startsWith(`${version}.`))
      .sort()
      .reverse())
      candidates.push(path.join(pyenv, 'versions', v, 'bin', `python${version}`));
    candidates.push(`/usr/bin/python${version}`, `/usr/local/bin/python${version}`);
  }
  for (const exe of candidates) {
    try {
      const { stdout } = await run(exe, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
      const found = stdout.trim();
      if (version === undefined || found === version) return { exe, version: found };
    } catch {
      // not this one
    }
  }
  throw new Error(
    version !== undefined
      ? `Python ${version} is needed (package.python) and was not found on PATH or in pyenv; install it (e.g. \`uv python install ${version}\`, pyenv, or the OS package python${version})`
      : 'python3 was not found on PATH; install Python 3.10 or newer',
  );
}

async function stagePypi(
  opts: StageOptions,
  pkg: Extract<PackageSpec, { kind: 'pypi' }>,
): Promise<StageResult> {
  const { server } = opts;
  let python: { exe: string; version: string };
  try {
    python = await findPython(server.python);
  } catch (err) {
    throw new BuildError(server.id, (err as Error).message);
  }
  const host = path.join(opts.dir, 'host');
  const venv = path.join(host, 'venv');
  await rm(host, { recursive: true, force: true });
  await mkdir(host, { recursive: true });
  const base = {
    serverId: server.id,
    cwd: host,
    logFile: opts.logFile,
    env: installerEnv({ PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' }),
    ...(opts.onLine ? { onLine: opts.onLine } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  await exec(python.exe, ['-m', 'venv', venv], { ...base, what: `python${python.version} -m venv` });
  const vpy = path.join(venv, 'bin', 'python');
  const args = ['-m', 'pip', 'install', pkg.spec];
  // The locked set when the pin is unchanged (nothing newer sneaks in), plus the config's constraints.
  const reuse =
    opts.lock?.package === pkg.spec &&
    opts.lock.python === python.version &&
    sameList(opts.lock.constraints ?? [], server.constraints);
  const lines = [...server.constraints, ...(reuse ? (opts.lock?.resolved ?? []) : [])];
  if (lines.length > 0) {
    const constraints = path.join(host, 'constraints.txt');
    await writeFile(constraints, `${lines.join('\n')}\n`);
    args.push('--constraint', constraints);
  }
  await exec(vpy, args, { ...base, what: `pip install ${pkg.spec}` });
  const frozen = await exec(vpy, ['-m', 'pip', 'freeze', '--exclude-editable'], {
    ...base,
    what: 'pip freeze',
  });
  const resolved = frozen
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (!existsSync(path.join(venv, 'bin', server.command)) && !server.shell) {
    const scripts = (await readdir(path.join(venv, 'bin'))).filter(
      (f) => !/^(python|pip|activate|Activate|deactivate)/.test(f),
    );
    throw new BuildError(
      server.id,
      `command "${server.command}" is not an executable of ${pkg.spec} (it installs: ${scripts.join(', ') || 'none'}); set command to one of them`,
    );
  }
  const hostLaunch = await writeLaunch(host, server, ['venv/bin']);

  // The container build context: Lambda's Node.js base image + Python + the same pinned set.
  const image = path.join(opts.dir, 'image');
  await rm(image, { recursive: true, force: true });
  await writeHandler(image, server, opts.handlerBundle, [`${IMAGE_VENV}/bin`]);
  await writeFile(path.join(image, 'requirements.txt'), `${resolved.join('\n')}\n`);
  await writeFile(
    path.join(image, 'Dockerfile'),
    pythonDockerfile({ server, spec: pkg.spec, python: python.version }),
  );
  await writeFile(path.join(image, '.dockerignore'), '*\n!index.mjs\n!launch.json\n!requirements.txt\n');
  return {
    artifact: { kind: 'image', dir: image },
    hostLaunch,
    lock: {
      kind: 'pypi',
      package: pkg.spec,
      architecture: server.aws.architecture,
      resolved,
      python: python.version,
      ...(server.constraints.length > 0 ? { constraints: [...server.constraints] } : {}),
    },
  };
}

function systemPackages(server: ServerConfig): string[] {
  if (server.system.length === 0) return [];
  return [`RUN dnf install -y ${server.system.join(' ')} && dnf clean all && rm -rf /var/cache/dnf`];
}

export function pythonDockerfile(input: { server: ServerConfig; spec: string; python: string }): string {
  const { server, spec, python } = input;
  return [
    '# syntax=docker/dockerfile:1',
    `# ${server.functionName}: ${spec} on Python ${python}, generated by mcp-fleet build. Do not edit.`,
    `FROM ${UV_IMAGE} AS uv`,
    '',
    `FROM ${LAMBDA_NODE_IMAGE}`,
    ...systemPackages(server),
    'COPY --from=uv /uv /usr/local/bin/uv',
    'ENV UV_PYTHON_INSTALL_DIR=/opt/python UV_NO_CACHE=1 UV_LINK_MODE=copy PYTHONDONTWRITEBYTECODE=1',
    '# The exact set resolved by the host install (see mcp-fleet.lock.json), nothing newer.',
    'COPY requirements.txt /opt/requirements.txt',
    `RUN uv venv --python ${python} ${IMAGE_VENV} \\`,
    `    && uv pip install --python ${IMAGE_VENV}/bin/python --no-deps -r /opt/requirements.txt \\`,
    `    && test -x ${IMAGE_VENV}/bin/${server.command}`,
    'COPY index.mjs launch.json ${LAMBDA_TASK_ROOT}/',
    'CMD ["index.handler"]',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- image

async function stageImage(
  opts: StageOptions,
  pkg: Extract<PackageSpec, { kind: 'image' }>,
): Promise<StageResult> {
  const { server } = opts;
  const copy = server.copy.length > 0 ? server.copy : server.command.startsWith('/') ? [server.command] : [];
  if (copy.length === 0) {
    throw new BuildError(
      server.id,
      `nothing to copy from ${pkg.spec}: give the command as an absolute path, or list the paths in package.copy`,
    );
  }
  const image = path.join(opts.dir, 'image');
  await rm(image, { recursive: true, force: true });
  await writeHandler(image, server, opts.handlerBundle, []);
  const ref =
    pkg.digest !== undefined ? `${pkg.repository}@${pkg.digest}` : `${pkg.repository}:${pkg.tag ?? ''}`;
  await writeFile(
    path.join(image, 'Dockerfile'),
    [
      '# syntax=docker/dockerfile:1',
      `# ${server.functionName}: the server copied from ${ref}, generated by mcp-fleet build. Do not edit.`,
      `FROM ${ref} AS server`,
      '',
      `FROM ${LAMBDA_NODE_IMAGE}`,
      ...systemPackages(server),
      ...copy.map((p) => `COPY --from=server ${p} ${p}`),
      'COPY index.mjs launch.json ${LAMBDA_TASK_ROOT}/',
      'CMD ["index.handler"]',
      '',
    ].join('\n'),
  );
  await writeFile(path.join(image, '.dockerignore'), '*\n!index.mjs\n!launch.json\n');
  return {
    artifact: { kind: 'image', dir: image },
    hostMissing: `a server from a container image (${ref}) cannot be run here without a container engine`,
    lock: { kind: 'image', package: pkg.spec, architecture: server.aws.architecture, resolved: [ref] },
  };
}
