/**
 * bench:gateway's memory per environment, each page once (bench/physical-memory.ts), on real
 * processes: two Node.js processes share their binary's pages, so their union is less than their
 * summed RSS, and a process counted twice is counted once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { physicalBytes } from '../../bench/physical-memory.js';
import { residentBytes } from '../../src/platform/processes.js';

const root = process.getuid?.() === 0;
const children: ChildProcess[] = [];

before(async () => {
  for (let i = 0; i < 2; i += 1) {
    const child = spawn(process.execPath, ['-e', 'process.stdout.write("up"); setInterval(() => {}, 1000)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    await once(child.stdout, 'data');
  }
});

after(async () => {
  for (const child of children) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
});

const pids = (): number[] => children.map((c) => c.pid ?? 0);

test(
  'pages two processes of one binary share are counted once; the same process twice, once',
  { skip: !root && 'page frame numbers are shown to root only' },
  () => {
    const [a, b] = pids() as [number, number];
    const one = physicalBytes([a]);
    const both = physicalBytes([a, b]);
    assert.ok(one !== undefined && both !== undefined);
    // One process alone: its resident pages (RSS), give or take what changed between the reads.
    const rss = residentBytes([a]);
    assert.ok(Math.abs(one - rss) < rss * 0.1, `${one} against an RSS of ${rss}`);
    assert.equal(physicalBytes([a, a]), one);
    // Node's code pages are shared: the union is well under the sum (about 40 MB of each is `node`).
    const summed = residentBytes([a, b]);
    assert.ok(both < summed * 0.8, `${both} of ${summed}`);
    assert.ok(both > one, `${both} against ${one} for one`);
  },
);

test(
  'a process that is gone counts nothing',
  { skip: !root && 'page frame numbers are shown to root only' },
  () => {
    assert.equal(physicalBytes([2 ** 22 + 12_345]), 0);
  },
);

test(
  'not root: the kernel hides the page frames, and the figure is undefined',
  { skip: root && 'running as root' },
  () => {
    assert.equal(physicalBytes(pids()), undefined);
  },
);
