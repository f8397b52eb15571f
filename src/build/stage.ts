/**
 * Staging: each server installed at build time into a function root (zip) or a container build
 * context (image), plus a host-platform install used to run and inspect it on this machine.
 * Nothing is downloaded when a function starts.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toLaunchSpec, type LaunchSpec, type ServerConfig } from '../config/model.js';
import type { PackageSpec } from '../config/package-spec.js';
import { BuildError, exec } from './exec.js';
import { ensureUv, findPython, UV_VERSION } from './uv.js';
import { LAUNCH_FILE_NAME } from '../contract/function-env.js';

/** The Lambda base image of container functions (the Node.js runtime, as zip functions use). */
export const LAMBDA_NODE_IMAGE = 'public.ecr.aws/lambda/nodejs:22';
/** uv installs Python and the server's packages in the image: the release the build uses. */
export const UV_IMAGE = `ghcr.io/astral-sh/uv:${UV_VERSION}`;
/**
 * uv's settings in the image: Python installed under /opt/python, no cache left in the layer,
 * files copied (no cache to link from).
 */
export const UV_IMAGE_ENV: Readonly<Record<string, string>> = {
  UV_PYTHON_INSTALL_DIR: '/opt/python',
  UV_NO_CACHE: '1',
  UV_LINK_MODE: 'copy',
};

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
  /** PyPI: `universal`: resolved once for every platform (uv), so the image installs the same set. */
  resolution?: 'universal';
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
  /** How PyPI servers are installed (default {@link uvInstall}). */
  pythonInstaller?: PythonInstaller;
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
  const file = path.join(root, LAUNCH_FILE_NAME);
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

/** The folder the image installs in (its venv is `venv/` in it, as on this machine). */
const IMAGE_PYTHON_DIR = '/opt';

/** uv's settings for installs on this machine: its cache (warm installs are hard links), no Python download (the interpreter is given). */
const UV_HOST_ENV: Record<string, string> = {
  UV_PYTHON_DOWNLOADS: 'never',
};

/**
 * The install of a resolved set, run in the folder that holds `venv/` and `requirements.txt`:
 * the same command on this machine and in the image. Exact versions, no dependency resolution,
 * and every module compiled to bytecode now (a deployed function's code is read-only, so Python
 * could not cache it at cold start).
 */
export const PYTHON_INSTALL_ARGS: readonly string[] = [
  'pip',
  'install',
  '--python',
  'venv',
  '--no-deps',
  '--compile-bytecode',
  '--requirement',
  'requirements.txt',
];

/** What a Python installer gets: a fresh folder to make `venv/` in, and what to put there. */
export interface PythonInstallContext {
  server: ServerConfig;
  spec: string;
  python: { exe: string; version: string };
  /** The server's host folder (empty): `venv/` goes here. */
  dir: string;
  /** The locked set to install exactly, when the lock holds one for this pin; else resolve. */
  locked?: readonly string[];
  constraints: readonly string[];
  /** Runs a command in `dir`, its output to the build log (rejects with a BuildError). */
  exec: (
    command: string,
    args: readonly string[],
    what: string,
    env?: Record<string, string>,
  ) => Promise<string>;
  /** A progress line. */
  onLine: (line: string) => void;
}

/**
 * Installs a Python server into `<dir>/venv` and answers the set installed (requirement lines).
 * The default is uv; the build benchmark passes pip's way as its baseline.
 */
export type PythonInstaller = (
  ctx: PythonInstallContext,
) => Promise<{ resolved: string[]; resolution?: 'universal' }>;

/**
 * uv: the set resolved once for every platform (`--universal`, for the function's Python), then
 * installed exactly, with bytecode, by the command the image runs.
 */
export const uvInstall: PythonInstaller = async (ctx) => {
  let uv: string;
  try {
    uv = await ensureUv({ onLine: ctx.onLine });
  } catch (err) {
    throw new BuildError(ctx.server.id, (err as Error).message);
  }
  let resolved: string[];
  if (ctx.locked !== undefined) {
    resolved = [...ctx.locked];
  } else {
    await writeFile(path.join(ctx.dir, 'requirements.in'), `${ctx.spec}\n`);
    const args = ['pip', 'compile', 'requirements.in', '--universal', '--python-version', ctx.python.version];
    args.push('--no-header', '--no-annotate', '--output-file', 'requirements.txt');
    if (ctx.constraints.length > 0) {
      await writeFile(path.join(ctx.dir, 'constraints.txt'), `${ctx.constraints.join('\n')}\n`);
      args.push('--constraint', 'constraints.txt');
    }
    await ctx.exec(uv, args, `uv pip compile ${ctx.spec}`, UV_HOST_ENV);
    resolved = requirementLines(await readFile(path.join(ctx.dir, 'requirements.txt'), 'utf8'));
  }
  await writeFile(path.join(ctx.dir, 'requirements.txt'), `${resolved.join('\n')}\n`);
  await ctx.exec(
    uv,
    ['venv', '--python', ctx.python.exe, 'venv'],
    `uv venv (Python ${ctx.python.version})`,
    UV_HOST_ENV,
  );
  await ctx.exec(uv, PYTHON_INSTALL_ARGS, `uv pip install ${ctx.spec}`, UV_HOST_ENV);
  return { resolved, resolution: 'universal' };
};

/** The requirement lines of a requirements file (comments and blanks dropped). */
export function requirementLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
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
  // The locked set when the pin, the Python and the constraints are unchanged (nothing newer
  // sneaks in). A set locked for one platform only (an older build's) is resolved again.
  const reuse =
    opts.lock?.package === pkg.spec &&
    opts.lock.python === python.version &&
    opts.lock.resolution === 'universal' &&
    sameList(opts.lock.constraints ?? [], server.constraints);
  const install = opts.pythonInstaller ?? uvInstall;
  const { resolved, resolution } = await install({
    server,
    spec: pkg.spec,
    python,
    dir: host,
    ...(reuse && opts.lock ? { locked: opts.lock.resolved } : {}),
    constraints: server.constraints,
    exec: (command, args, what, env = {}) =>
      exec(command, args, {
        serverId: server.id,
        cwd: host,
        logFile: opts.logFile,
        env: installerEnv(env),
        what,
        ...(opts.onLine ? { onLine: opts.onLine } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    onLine: (line) => opts.onLine?.(line),
  });
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

  // The container build context: Lambda's Node.js base image + Python + the same locked set,
  // installed by the same command.
  const image = path.join(opts.dir, 'image');
  await rm(image, { recursive: true, force: true });
  await writeHandler(image, server, opts.handlerBundle, [`${IMAGE_PYTHON_DIR}/venv/bin`]);
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
      ...(resolution !== undefined ? { resolution } : {}),
      ...(server.constraints.length > 0 ? { constraints: [...server.constraints] } : {}),
    },
  };
}

function systemPackages(server: ServerConfig): string[] {
  if (server.system.length === 0) return [];
  return [`RUN dnf install -y ${server.system.join(' ')} && dnf clean all && rm -rf /var/cache/dnf`];
}

/**
 * The image of a PyPI server: uv installs Python and then, with the command the host install ran
 * ({@link PYTHON_INSTALL_ARGS}), the locked set with its bytecode. At run time the code is
 * read-only: PYTHONDONTWRITEBYTECODE only stops Python from trying to write .pyc files; the
 * ones compiled at build time are read.
 */
export function pythonDockerfile(input: { server: ServerConfig; spec: string; python: string }): string {
  const { server, spec, python } = input;
  const dir = IMAGE_PYTHON_DIR;
  return [
    '# syntax=docker/dockerfile:1',
    `# ${server.functionName}: ${spec} on Python ${python}, generated by mcp-fleet build. Do not edit.`,
    `FROM ${UV_IMAGE} AS uv`,
    '',
    `FROM ${LAMBDA_NODE_IMAGE}`,
    ...systemPackages(server),
    'COPY --from=uv /uv /usr/local/bin/uv',
    `ENV ${Object.entries(UV_IMAGE_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
    '# The exact set resolved by the build (see mcp-fleet.lock.json), installed as on the build machine.',
    `COPY requirements.txt ${dir}/requirements.txt`,
    `RUN cd ${dir} && uv venv --python ${python} venv \\`,
    `    && uv ${PYTHON_INSTALL_ARGS.join(' ')} \\`,
    `    && test -x ${dir}/venv/bin/${server.command}`,
    'ENV PYTHONDONTWRITEBYTECODE=1',
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
