/**
 * uv, the installer of PyPI servers (on this machine and in the image), and the Python it needs.
 *
 * mcp-fleet uses one exact uv release: the `uv` on PATH when it is that release, otherwise its own
 * copy in mcp-fleet's tools folder, installed from PyPI the first time it is needed (a throw-away
 * venv of the python3 on PATH and its pip). Nothing goes into the machine's global Python.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import semver from 'semver';

const run = promisify(execFile);

/** The uv release mcp-fleet installs with (PyPI package `uv`; the image copies the same release). */
export const UV_VERSION = '0.13.9';
/** Python servers need at least this Python (when `package.python` does not name one). */
export const MIN_PYTHON = '3.11';

/**
 * uv's switch for the platform's trust store (`--system-certs`; `UV_NATIVE_TLS` / `--native-tls` are
 * its deprecated names in uv 0.13). Without it uv trusts only the Mozilla roots it carries, so behind
 * a TLS-intercepting proxy whose CA is in the system's store it refuses PyPI ("invalid peer
 * certificate: UnknownIssuer"). With it, uv verifies with the platform's verifier: on Linux the
 * OpenSSL bundle and folder (`/etc/ssl/certs/…`), or `SSL_CERT_FILE` / `SSL_CERT_DIR` in their
 * place when set (uv reads those two in any case); the keychain on macOS; the Windows store.
 */
export const UV_SYSTEM_CERTS = 'UV_SYSTEM_CERTS';
/** The deprecated name of {@link UV_SYSTEM_CERTS} (still read by uv 0.13, with a warning). */
const UV_NATIVE_TLS = 'UV_NATIVE_TLS';

/** A false value as uv reads boolean variables (clap's boolish values). */
const FALSE_WORDS = new Set(['0', 'false', 'f', 'no', 'n', 'off']);
const isSet = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * Whether mcp-fleet's installers use the system's trust store: yes, unless the environment sets
 * `UV_SYSTEM_CERTS` (or the deprecated `UV_NATIVE_TLS`) to a false value such as `false`.
 */
export function systemCertsWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = isSet(env[UV_SYSTEM_CERTS]) ? env[UV_SYSTEM_CERTS] : env[UV_NATIVE_TLS];
  return !isSet(value) || !FALSE_WORDS.has(value.trim().toLowerCase());
}

/**
 * The variables every uv process mcp-fleet starts gets on top of its environment (the build's
 * stages, `dev`'s build, the test tools' script): the system's trust store, as git and Go use
 * it. A user's own `UV_SYSTEM_CERTS` or `UV_NATIVE_TLS` is left as it is (`UV_SYSTEM_CERTS=false`
 * turns the store off).
 */
export function uvTrustEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return isSet(env[UV_SYSTEM_CERTS]) || isSet(env[UV_NATIVE_TLS]) ? {} : { [UV_SYSTEM_CERTS]: 'true' };
}

/** pip uses the system's trust store by default from this release on (truststore, Python ≥ 3.10). */
export const PIP_TRUSTSTORE_DEFAULT = '24.2.0';

/** What the bootstrap's pip and Python say about certificates (see {@link pipTrustEnv}). */
export interface PipCertificates {
  /** pip's version. */
  pip: string;
  /** The CA file and folder Python's OpenSSL trusts by default (`ssl.get_default_verify_paths()`). */
  cafile: string | null;
  capath: string | null;
  /** Whether a pip configuration file sets `cert`. */
  configured: boolean;
}

/**
 * The variables the pip that installs uv gets, so that it trusts the system's store as uv does:
 * nothing for a pip that does so itself (24.2 and later), nor when the user set pip's certificates
 * (`PIP_CERT`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, `cert` in a pip configuration file) or
 * turned the store off ({@link systemCertsWanted}); else `PIP_CERT` naming the CA file (or
 * folder) of Python's OpenSSL — the system's store on Linux — in place of pip's own bundle.
 */
export function pipTrustEnv(
  found: PipCertificates,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (!systemCertsWanted(env)) return {};
  if (['PIP_CERT', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'].some((k) => isSet(env[k])) || found.configured)
    return {};
  const pip = semver.coerce(found.pip);
  if (pip === null || semver.gte(pip, PIP_TRUSTSTORE_DEFAULT)) return {};
  const store = found.cafile ?? found.capath;
  return store === null ? {} : { PIP_CERT: store };
}

/** Asks a venv's Python what {@link pipTrustEnv} needs (a pip configuration file only for an older pip). */
async function pipCertificates(python: string, env: NodeJS.ProcessEnv): Promise<PipCertificates> {
  const { stdout } = await run(
    python,
    [
      '-c',
      'import json, ssl; from importlib.metadata import version; p = ssl.get_default_verify_paths(); print(json.dumps({"pip": version("pip"), "cafile": p.cafile, "capath": p.capath}))',
    ],
    { env, timeout: 60_000 },
  );
  const found = JSON.parse(stdout) as Omit<PipCertificates, 'configured'>;
  let configured = false;
  if (semver.lt(semver.coerce(found.pip) ?? '0.0.0', PIP_TRUSTSTORE_DEFAULT)) {
    const list = await run(python, ['-m', 'pip', 'config', 'list'], { env, timeout: 60_000 }).catch(() => ({
      stdout: '',
    }));
    configured = /^[^=\n]*\.cert=/m.test(list.stdout);
  }
  return { ...found, configured };
}

/** The package root (this file is src/build or dist/build). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * mcp-fleet's tools folder: `.mcp-fleet/tools` in mcp-fleet's own folder (a clone, or
 * node_modules/mcp-fleet), or `MCP_FLEET_TOOLS_DIR`.
 */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['MCP_FLEET_TOOLS_DIR'];
  return override !== undefined && override !== ''
    ? path.resolve(override)
    : path.join(ROOT, '.mcp-fleet', 'tools');
}

/** Where mcp-fleet keeps its own uv. */
export const ownUvPath = (env: NodeJS.ProcessEnv = process.env): string =>
  path.join(toolsDir(env), `uv-${UV_VERSION}`, 'uv');

async function version(exe: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout } = await run(exe, ['--version'], {
      env: { ...env, ...uvTrustEnv(env) },
      timeout: 30_000,
    });
    return /^uv (\S+)/.exec(stdout.trim())?.[1];
  } catch {
    return undefined;
  }
}

export interface UvOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines of a first-time install. */
  onLine?: (line: string) => void;
}

const pending = new Map<string, Promise<string>>();

/**
 * The uv to install with: `uv` on PATH when it is {@link UV_VERSION}, else mcp-fleet's own copy,
 * installed the first time (once per process; concurrent processes each install into a
 * temporary folder and move the binary into place, which is atomic).
 */
export function ensureUv(opts: UvOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const own = ownUvPath(env);
  let p = pending.get(own);
  if (p === undefined) {
    p = findOrInstallUv(own, env, opts.onLine);
    pending.set(own, p);
    p.catch(() => pending.delete(own));
  }
  return p;
}

async function findOrInstallUv(
  own: string,
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
): Promise<string> {
  if ((await version('uv', env)) === UV_VERSION) return 'uv';
  if (existsSync(own) && (await version(own, env)) === UV_VERSION) return own;
  const python = await findPython(undefined, env);
  const tmp = path.join(toolsDir(env), `.uv-install-${randomUUID()}`);
  onLine?.(`installing uv ${UV_VERSION} into ${path.dirname(own)} (first use)`);
  try {
    await mkdir(path.dirname(tmp), { recursive: true });
    try {
      await run(python.exe, ['-m', 'venv', tmp], { env, timeout: 120_000 });
    } catch (err) {
      throw new Error(
        `uv ${UV_VERSION} is needed to install Python servers; installing it failed at \`${python.exe} -m venv\` (${firstLine(err)}). On Debian/Ubuntu: apt-get install python3-venv; or put uv ${UV_VERSION} on PATH (pipx install uv==${UV_VERSION})`,
        { cause: err },
      );
    }
    const venvPython = path.join(tmp, 'bin', 'python');
    try {
      const trust = pipTrustEnv(await pipCertificates(venvPython, env), env);
      await run(
        venvPython,
        ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `uv==${UV_VERSION}`],
        {
          env: { ...env, ...trust, PIP_NO_INPUT: '1' },
          timeout: 600_000,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
    } catch (err) {
      throw new Error(
        `uv ${UV_VERSION} is needed to install Python servers; \`pip install uv==${UV_VERSION}\` failed: ${lastLines(err)}`,
        { cause: err },
      );
    }
    await mkdir(path.dirname(own), { recursive: true });
    await rename(path.join(tmp, 'bin', 'uv'), own);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if ((await version(own, env)) !== UV_VERSION)
    throw new Error(`uv ${UV_VERSION} was installed into ${own} but does not run`);
  return own;
}

const firstLine = (err: unknown): string =>
  ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0] ?? '';
const lastLines = (err: unknown): string =>
  ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-5).join(' | ');

/** Compares two `major.minor` versions. */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/**
 * A Python interpreter of that version (major.minor: PATH, pyenv, /usr/bin, /usr/local/bin), or
 * without one the `python3` on PATH, which must be {@link MIN_PYTHON} or newer. The error says
 * what is missing and how to get it.
 */
export async function findPython(
  version: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ exe: string; version: string }> {
  const candidates = version !== undefined ? [`python${version}`] : ['python3'];
  if (version !== undefined) {
    const pyenv = env['PYENV_ROOT'] ?? path.join(os.homedir(), '.pyenv');
    const versions = await readdir(path.join(pyenv, 'versions')).catch(() => [] as string[]);
    for (const v of versions
      .filter((v) => v === version || v.startsWith(`${version}.`))
      .sort()
      .reverse())
      candidates.push(path.join(pyenv, 'versions', v, 'bin', `python${version}`));
    candidates.push(`/usr/bin/python${version}`, `/usr/local/bin/python${version}`);
  }
  let tooOld: string | undefined;
  for (const exe of candidates) {
    try {
      const { stdout } = await run(exe, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
        env,
        timeout: 30_000,
      });
      const found = stdout.trim();
      if (version !== undefined ? found === version : compareVersions(found, MIN_PYTHON) >= 0)
        return { exe, version: found };
      tooOld = found;
    } catch {
      // not this one
    }
  }
  if (version !== undefined)
    throw new Error(
      `Python ${version} is needed (package.python) and was not found on PATH or in pyenv; install it (pyenv install ${version}, or the OS package python${version})`,
    );
  throw new Error(
    tooOld !== undefined
      ? `Python servers need Python ≥ ${MIN_PYTHON} on PATH as python3; python3 there is ${tooOld}. Install a newer Python (e.g. pyenv install 3.12, or the OS package), or name one with package.python`
      : `Python servers need Python ≥ ${MIN_PYTHON} on PATH as python3, and there is no python3 on PATH. Install Python ${MIN_PYTHON} or newer (e.g. apt-get install python3, brew install python@3.12, or pyenv)`,
  );
}
