/**
 * Small helpers shared by scripts, benchmarks and tests (tests re-export them from
 * test/helpers.ts; scripts and benchmarks import them from here, never from test/).
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => {
        resolve(port);
      });
    });
  });
}

/** A git repository with one commit (a README), for the git server. */
export async function gitRepo(repo: string): Promise<void> {
  execFileSync('git', ['init', '-q', repo]);
  await writeFile(path.join(repo, 'README.md'), '# test repo\n');
  execFileSync('git', ['-C', repo, 'add', '.']);
  execFileSync('git', [
    '-C',
    repo,
    '-c',
    'user.name=t',
    '-c',
    'user.email=t@example.com',
    'commit',
    '-qm',
    'first commit',
  ]);
}
