/** Go servers: a static binary built for Linux and the function's CPU (and one for this machine). */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BuildError } from '../exec.js';
import { runInstaller, writeHandler, writeLaunch } from './files.js';
import type { Stager } from './types.js';

const goArch = (a: 'arm64' | 'x86_64'): string => (a === 'arm64' ? 'arm64' : 'amd64');
const hostGoArch = (): string => (os.arch() === 'x64' ? 'amd64' : os.arch());
const GOFLAGS = '-mod=mod -buildvcs=false';

export const stageGo: Stager<'go'> = async (opts, pkg) => {
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
  await writeFile(
    path.join(work, 'go.mod'),
    `module mcpfleet.local/stage/${server.id.replace(/[^\w-]/g, '-')}\n`,
  );
  if (opts.lock?.package === pkg.spec && opts.lock.goSum !== undefined)
    await writeFile(path.join(work, 'go.sum'), opts.lock.goSum);
  await runInstaller(opts, work, 'go', ['get', `${pkg.module}@${pkg.version}`], `go get ${pkg.spec}`, {
    GOFLAGS,
  });
  const build = async (goos: string, arch: string, out: string): Promise<void> => {
    const args = ['build', '-trimpath', '-ldflags=-s -w', '-o', out, pkg.module];
    await runInstaller(opts, work, 'go', args, `go build ${pkg.module} for ${goos}/${arch}`, {
      CGO_ENABLED: '0',
      GOOS: goos,
      GOARCH: arch,
      GOFLAGS,
    });
  };
  await build('linux', goArch(server.aws.architecture), path.join(root, 'bin', binary));
  let hostLaunch = await writeHandler(root, server, opts.handlerBundle, ['bin']);
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
};
