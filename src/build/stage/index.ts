/**
 * Staging: each server installed at build time into a function root (zip) or a container build
 * context (image), plus a host-platform install used to run and inspect it on this machine.
 * Nothing is downloaded when a function starts. One module per package kind, each a
 * {@link Stager}, chosen by {@link STAGERS}.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { PackageSpec } from '../../config/package-spec.js';
import { BuildError } from '../exec.js';
import { stageGo } from './go.js';
import { stageImage } from './image.js';
import { stageNpm } from './npm.js';
import { stagePypi } from './pypi.js';
import { runtimeArtifact } from './runtime.js';
import type { StageOptions, StageResult, Stager } from './types.js';

export { writeHandler, writeLaunch } from './files.js';
export { requirementLines, type PythonInstaller } from './pypi.js';
export { DIRECT_CODE_LIMITS, type DirectCodeLimits } from './runtime.js';
export type { Artifact, LockEntry, StageOptions, StageResult } from './types.js';

/** The stager of each package kind. */
const STAGERS: { [K in PackageSpec['kind']]: Stager<K> } = {
  npm: stageNpm,
  pypi: stagePypi,
  go: stageGo,
  image: stageImage,
};

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
  const stage = STAGERS[pkg.kind] as Stager<typeof pkg.kind>;
  const staged = await stage(opts, pkg);
  // AgentCore Runtime takes a zip as direct code only up to its limits.
  return opts.server.hosting.host === 'agentcore-runtime' ? runtimeArtifact(opts, staged) : staged;
}
