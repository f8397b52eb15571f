/** What staging takes and gives, shared by every package kind's stager. */
import type { ServerConfig } from '../../config/model.js';
import type { PackageSpec } from '../../config/package-spec.js';
import type { PythonInstaller } from './pypi.js';
import type { DirectCodeLimits } from './runtime.js';

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

export type Artifact =
  /**
   * Function root: index.mjs (the host's entry: the handler, the Web Function entry, or the
   * AgentCore Runtime session entry of direct code), launch.json, node_modules/ or bin/.
   */
  | { kind: 'zip'; dir: string }
  /** Container build context: a Dockerfile whose image runs the handler (or the session entry). */
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
  /** agentcore-runtime: the direct-code sizes over which a zip becomes a container (default: AgentCore's). */
  directCodeLimits?: DirectCodeLimits;
}

export interface StageResult {
  artifact: Artifact;
  /** A launch file that runs the server on this machine; absent when it cannot run here. */
  hostLaunch?: string;
  /** Why there is no host launch. */
  hostMissing?: string;
  /** Why the artifact is not the one its host takes first (agentcore-runtime: a container, as direct code is too big). */
  note?: string;
  lock: LockEntry;
}

/** Stages one package kind: installs `pkg` for `opts.server` into `opts.dir`. */
export type Stager<K extends PackageSpec['kind']> = (
  opts: StageOptions,
  pkg: Extract<PackageSpec, { kind: K }>,
) => Promise<StageResult>;
