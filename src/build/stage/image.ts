/** Servers from a container image: their files copied into Lambda's Node.js image. */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { BuildError } from '../exec.js';
import { writeContainer, writeHandler } from './files.js';
import type { Stager } from './types.js';

export const stageImage: Stager<'image'> = async (opts, pkg) => {
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
  await writeContainer(image, {
    server,
    what: `the server copied from ${ref}`,
    stages: [{ image: ref, name: 'server' }],
    body: copy.map((p) => `COPY --from=server ${p} ${p}`),
    files: ['index.mjs', 'launch.json'],
  });
  return {
    artifact: { kind: 'image', dir: image },
    hostMissing: `a server from a container image (${ref}) cannot be run here without a container engine`,
    lock: { kind: 'image', package: pkg.spec, architecture: server.aws.architecture, resolved: [ref] },
  };
};
