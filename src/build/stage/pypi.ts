/**
 * PyPI servers: resolved once for every platform and installed into a venv on this machine (to
 * run and inspect them), and the same locked set installed by the same command in a container
 * image (Lambda's Node.js image + Python).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ServerConfig } from '../../config/model.js';
import { BuildError } from '../exec.js';
import { ensureUv, findPython, UV_SYSTEM_CERTS, UV_VERSION, uvTrustEnv } from '../uv.js';
import {
  containerDockerfile,
  runInstaller,
  writeContainer,
  writeHandler,
  writeLaunch,
  type ContainerSpec,
} from './files.js';
import type { LockEntry, StageOptions, Stager } from './types.js';

/** uv installs Python and the server's packages in the image: the release the build uses. */
const UV_IMAGE = `ghcr.io/astral-sh/uv:${UV_VERSION}`;
/**
 * uv's settings in the image: Python installed under /opt/python, no cache left in the layer,
 * files copied (no cache to link from), and the image's trust store, as on this machine (the
 * base image's own bundle, plus any CA a `system` package adds).
 */
const UV_IMAGE_ENV: Readonly<Record<string, string>> = {
  UV_PYTHON_INSTALL_DIR: '/opt/python',
  UV_NO_CACHE: '1',
  UV_LINK_MODE: 'copy',
  [UV_SYSTEM_CERTS]: 'true',
};

/** The folder the image installs in (its venv is `venv/` in it, as on this machine). */
const IMAGE_PYTHON_DIR = '/opt';

/**
 * uv's settings for installs on this machine: its cache (warm installs are hard links), no Python
 * download (the interpreter is given), the system's trust store unless the user's environment
 * says otherwise ({@link uvTrustEnv}).
 */
const uvHostEnv = (env: NodeJS.ProcessEnv): Record<string, string> => ({
  UV_PYTHON_DOWNLOADS: 'never',
  ...uvTrustEnv(env),
});

/**
 * The install of a resolved set, run in the folder that holds `venv/` and `requirements.txt`:
 * the same command on this machine and in the image. Exact versions, no dependency resolution,
 * and every module compiled to bytecode now (a deployed function's code is read-only, so Python
 * could not cache it at cold start).
 */
const PYTHON_INSTALL_ARGS: readonly string[] = [
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
 * installed exactly, with bytecode, by the command the image runs. `uv` finds the binary, `env`
 * is the environment the installer's processes start from (defaults: {@link ensureUv}, this
 * process's).
 */
export function uvInstaller(
  opts: { uv?: (onLine: (line: string) => void) => Promise<string>; env?: NodeJS.ProcessEnv } = {},
): PythonInstaller {
  const findUv = opts.uv ?? ((onLine) => ensureUv({ onLine }));
  return async (ctx) => {
    let uv: string;
    try {
      uv = await findUv(ctx.onLine);
    } catch (err) {
      throw new BuildError(ctx.server.id, (err as Error).message);
    }
    const hostEnv = uvHostEnv(opts.env ?? process.env);
    let resolved: string[];
    if (ctx.locked !== undefined) {
      resolved = [...ctx.locked];
    } else {
      await writeFile(path.join(ctx.dir, 'requirements.in'), `${ctx.spec}\n`);
      const args = [
        'pip',
        'compile',
        'requirements.in',
        '--universal',
        '--python-version',
        ctx.python.version,
      ];
      args.push('--no-header', '--no-annotate', '--output-file', 'requirements.txt');
      if (ctx.constraints.length > 0) {
        await writeFile(path.join(ctx.dir, 'constraints.txt'), `${ctx.constraints.join('\n')}\n`);
        args.push('--constraint', 'constraints.txt');
      }
      await ctx.exec(uv, args, `uv pip compile ${ctx.spec}`, hostEnv);
      resolved = requirementLines(await readFile(path.join(ctx.dir, 'requirements.txt'), 'utf8'));
    }
    await writeFile(path.join(ctx.dir, 'requirements.txt'), `${resolved.join('\n')}\n`);
    await ctx.exec(
      uv,
      ['venv', '--python', ctx.python.exe, 'venv'],
      `uv venv (Python ${ctx.python.version})`,
      hostEnv,
    );
    await ctx.exec(uv, PYTHON_INSTALL_ARGS, `uv pip install ${ctx.spec}`, hostEnv);
    return { resolved, resolution: 'universal' };
  };
}

/** The installer of PyPI servers: {@link uvInstaller} with mcp-fleet's uv. */
export const uvInstall: PythonInstaller = uvInstaller();

/** The requirement lines of a requirements file (comments and blanks dropped). */
export function requirementLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export const stagePypi: Stager<'pypi'> = async (opts, pkg) => {
  const { server } = opts;
  let python: { exe: string; version: string };
  try {
    python = await findPython(server.python);
  } catch (err) {
    throw new BuildError(server.id, (err as Error).message);
  }
  const host = path.join(opts.dir, 'host');
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
    exec: (command, args, what, env = {}) => runInstaller(opts, host, command, args, what, env),
    onLine: (line) => opts.onLine?.(line),
  });
  await checkCommand(server, pkg.spec, path.join(host, 'venv'));
  const hostLaunch = await writeLaunch(host, server, ['venv/bin']);
  const image = await writeImageContext(opts, pkg.spec, python.version, resolved);
  const lock: LockEntry = {
    kind: 'pypi',
    package: pkg.spec,
    architecture: server.aws.architecture,
    resolved,
    python: python.version,
    ...(resolution !== undefined ? { resolution } : {}),
    ...(server.constraints.length > 0 ? { constraints: [...server.constraints] } : {}),
  };
  return { artifact: { kind: 'image', dir: image }, hostLaunch, lock };
};

/** The server's command must be a script the install put in the venv (unless run by a shell). */
async function checkCommand(server: ServerConfig, spec: string, venv: string): Promise<void> {
  if (existsSync(path.join(venv, 'bin', server.command)) || server.shell) return;
  const scripts = (await readdir(path.join(venv, 'bin'))).filter(
    (f) => !/^(python|pip|activate|Activate|deactivate)/.test(f),
  );
  throw new BuildError(
    server.id,
    `command "${server.command}" is not an executable of ${spec} (it installs: ${scripts.join(', ') || 'none'}); set command to one of them`,
  );
}

/**
 * The container build context: Lambda's Node.js base image + Python + the same locked set,
 * installed by the same command. Answers its folder.
 */
async function writeImageContext(
  opts: StageOptions,
  spec: string,
  python: string,
  resolved: readonly string[],
): Promise<string> {
  const { server } = opts;
  const image = path.join(opts.dir, 'image');
  await rm(image, { recursive: true, force: true });
  await writeHandler(image, server, opts.handlerBundle, [`${IMAGE_PYTHON_DIR}/venv/bin`]);
  await writeFile(path.join(image, 'requirements.txt'), `${resolved.join('\n')}\n`);
  await writeContainer(image, pythonContainer({ server, spec, python }));
  return image;
}

/**
 * The image of a PyPI server: uv installs Python and then, with the command the host install ran
 * ({@link PYTHON_INSTALL_ARGS}), the locked set with its bytecode. At run time the code is
 * read-only: PYTHONDONTWRITEBYTECODE only stops Python from trying to write .pyc files; the
 * ones compiled at build time are read.
 */
function pythonContainer(input: { server: ServerConfig; spec: string; python: string }): ContainerSpec {
  const { server, spec, python } = input;
  const dir = IMAGE_PYTHON_DIR;
  return {
    server,
    what: `${spec} on Python ${python}`,
    stages: [{ image: UV_IMAGE, name: 'uv' }],
    body: [
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
    ],
    files: ['index.mjs', 'launch.json'],
    inputs: ['requirements.txt'],
  };
}

/** The Dockerfile of a PyPI server's image (see {@link pythonContainer}). */
export function pythonDockerfile(input: { server: ServerConfig; spec: string; python: string }): string {
  return containerDockerfile(pythonContainer(input));
}
