/**
 * A Lambda-like sandbox for one process, without a container engine: a Linux mount namespace
 * (`unshare --mount`, as root) with a root file system assembled the way Lambda's is —
 *
 *   /var/task     the function's code, read-only
 *   /var/lang     the language runtime (Node.js), read-only
 *   /var/runtime  the runtime's own code (the runtime interface client, or mcp-fleet's worker), read-only
 *   /tmp          empty, writable, the only writable place (512 MB by default)
 *   /usr/lib*, /usr/share, /etc   the host's, read-only (libraries, certificates, time zones)
 *   /usr/bin      a few base tools standing in for Amazon Linux 2023's (a shell, coreutils,
 *                 grep, sed, tar, gzip) — not git, python, curl or anything else the function
 *                 does not carry
 *   /dev          null, zero, full, random, urandom, tty (no /dev/shm, as in Lambda)
 *
 * — and nothing else: the rest of the host (home folders, /opt, other projects) is not there, the
 * root is read-only, and the process gets only the environment it is given. The network is the
 * host's (the emulator listens on loopback).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';

/** What Lambda's base image offers on PATH, approximately (see above). */
export const BASE_TOOLS = [
  'sh',
  'bash',
  'env',
  'cat',
  'ls',
  'cp',
  'mv',
  'rm',
  'mkdir',
  'rmdir',
  'ln',
  'chmod',
  'touch',
  'echo',
  'printf',
  'sleep',
  'date',
  'uname',
  'id',
  'pwd',
  'head',
  'tail',
  'wc',
  'sort',
  'uniq',
  'cut',
  'tr',
  'tee',
  'grep',
  'sed',
  'awk',
  'find',
  'xargs',
  'basename',
  'dirname',
  'readlink',
  'realpath',
  'mktemp',
  'true',
  'false',
  'test',
  'expr',
  'tar',
  'gzip',
  'gunzip',
  'which',
] as const;

/** Lambda's PATH for the Node.js runtimes. */
export const LAMBDA_PATH = '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin';

export interface SandboxMount {
  /** Where it appears in the sandbox (absolute). */
  target: string;
  /** The host file or folder. */
  source: string;
}

export interface SandboxOptions {
  /** An empty host folder the sandbox's root is assembled on (the caller removes it afterwards). */
  rootDir: string;
  /** The function's code: mounted read-only at /var/task. */
  taskRoot: string;
  /** More read-only mounts: the runtime at /var/lang, the runtime client at /var/runtime, … */
  mounts: readonly SandboxMount[];
  /** The program and its arguments, as paths inside the sandbox. */
  command: string;
  args: readonly string[];
  /** Working directory inside the sandbox (default /var/task). */
  cwd?: string;
  /** The whole environment of the program (nothing is inherited). */
  env: Readonly<Record<string, string>>;
  /** Size of the writable /tmp, MB (Lambda's default: 512). */
  tmpMb?: number;
}

/** How to start the sandboxed program: spawn `command` with `args` and `env`. */
export interface SandboxLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** Local failure: the sandbox cannot be made on this machine. */
export class SandboxUnavailableError extends FleetError {
  constructor(why: string) {
    super(FLEET_ERROR.sandboxUnavailable, `the Lambda-like sandbox cannot run here: ${why}`);
    this.name = 'SandboxUnavailableError';
  }
}

const HOST_DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** A host program by name, from PATH or the usual system folders. */
function hostProgram(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), ...HOST_DIRS];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Why the sandbox cannot run here, or undefined when it can. */
export function sandboxUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'it needs Linux (mount namespaces)';
  if (process.getuid?.() !== 0)
    return 'it needs root to make a mount namespace (run as root, or leave --sandbox off)';
  for (const p of ['unshare', 'mount', 'chroot']) {
    if (hostProgram(p) === undefined) return `${p} (util-linux / coreutils) is not installed`;
  }
  return undefined;
}

/** Single-quoted for /bin/sh. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The command line that runs a program in a fresh sandbox (see the module comment). The mount
 * namespace dies with the program: nothing it mounted outlives it.
 */
export function sandboxLaunch(o: SandboxOptions): SandboxLaunch {
  const why = sandboxUnavailable();
  if (why !== undefined) throw new SandboxUnavailableError(why);
  const unshare = hostProgram('unshare') as string;
  const mount = hostProgram('mount') as string;
  const chroot = hostProgram('chroot') as string;
  const R = q(o.rootDir);
  const lines: string[] = [
    'set -eu',
    `M=${q(mount)}`,
    `$M -t tmpfs -o mode=0755,size=16m mcp-fleet-sandbox ${R}`,
    `cd ${R}`,
    'mkdir -p usr/bin var/task var/lang var/runtime opt tmp proc dev',
  ];
  // The host's libraries, shared data and configuration, read-only.
  for (const dir of ['usr/lib', 'usr/lib64', 'usr/libexec', 'usr/share', 'etc']) {
    lines.push(`if [ -d /${dir} ]; then mkdir -p ${dir} && $M --bind -o ro /${dir} ${dir}; fi`);
  }
  // Library folders as on the host (merged /usr: symbolic links); /bin is the base tools' folder.
  for (const lib of ['lib', 'lib64', 'lib32']) {
    lines.push(
      `if [ -L /${lib} ]; then ln -s "$(readlink /${lib})" ${lib}; elif [ -d /${lib} ]; then mkdir ${lib} && $M --bind -o ro /${lib} ${lib}; fi`,
    );
  }
  lines.push('ln -s usr/bin bin');
  // The base tools, each bound read-only from the host.
  lines.push(
    `for b in ${BASE_TOOLS.join(' ')}; do`,
    '  src=""',
    '  for d in /usr/bin /bin; do if [ -z "$src" ] && [ -e "$d/$b" ]; then src="$d/$b"; fi; done',
    '  if [ -n "$src" ]; then : > "usr/bin/$b"; $M --bind -o ro "$src" "usr/bin/$b"; fi',
    'done',
  );
  lines.push(`$M --bind -o ro ${q(o.taskRoot)} var/task`);
  for (const m of o.mounts) {
    const target = q(m.target.replace(/^\/+/, ''));
    lines.push(
      `if [ -d ${q(m.source)} ]; then mkdir -p ${target}; else mkdir -p "$(dirname ${target})" && : > ${target}; fi`,
      `$M --bind -o ro ${q(m.source)} ${target}`,
    );
  }
  lines.push(
    `$M -t tmpfs -o mode=1777,size=${String(o.tmpMb ?? 512)}m tmp tmp`,
    '$M -t proc proc proc',
    '$M -t tmpfs -o mode=0755,size=1m dev dev',
    'for n in null zero full random urandom tty; do : > "dev/$n"; $M --bind "/dev/$n" "dev/$n"; done',
    'ln -s /proc/self/fd dev/fd; ln -s /proc/self/fd/0 dev/stdin; ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr',
    // Everything in place: the root itself becomes read-only.
    `$M -o remount,ro ${R}`,
    'cd /',
    `exec ${q(chroot)} ${R} /bin/sh -c 'cd "$0" && exec "$@"' ${q(o.cwd ?? '/var/task')} ${[o.command, ...o.args].map(q).join(' ')}`,
  );
  return {
    command: unshare,
    args: ['--mount', '--propagation', 'private', '/bin/sh', '-c', lines.join('\n')],
    env: { ...o.env },
  };
}

export interface LambdaFunctionFacts {
  functionName: string;
  memoryMb: number;
  timeoutSeconds: number;
  region: string;
  /** `file.export` of the handler (default index.handler). */
  handler?: string;
}

/**
 * The environment variables Lambda gives a Node.js 22 function (its reserved variables), with
 * placeholder role credentials: what a sandboxed function sees instead of the host's environment.
 */
export function lambdaEnvironment(f: LambdaFunctionFacts): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: f.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(f.timeoutSeconds),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${f.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]local',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_REGION: f.region,
    AWS_DEFAULT_REGION: f.region,
    AWS_ACCESS_KEY_ID: 'ASIAMCPFLEETLOCAL000',
    AWS_SECRET_ACCESS_KEY: 'mcp-fleet-local-sandbox-placeholder',
    AWS_SESSION_TOKEN: 'mcp-fleet-local-sandbox-placeholder',
    _HANDLER: f.handler ?? 'index.handler',
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    PATH: LAMBDA_PATH,
    LD_LIBRARY_PATH:
      '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
    NODE_PATH:
      '/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task',
  };
}
