/**
 * bench:gateway's memory per environment, each page once (bench/physical-memory.ts), on real
 * processes: two Node.js processes share their binary's pages, so their union is less than their
 * summed RSS, and a process counted twice is counted once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { addedBytes, physicalBytes } from '../../bench/physical-memory.js';
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

/** Pages a live process may touch between two reads of its page table. */
const SLACK = 64 * 4096;

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
    // Read twice, a process may have touched a page or two in between (a timer fires each second).
    const twice = physicalBytes([a, a]);
    assert.ok(twice !== undefined && Math.abs(twice - one) <= SLACK, `${twice} against ${one}`);
    // Node's code pages are shared: the union is well under the sum (about 40 MB of each is `node`).
    const summed = residentBytes([a, b]);
    assert.ok(both < summed * 0.8, `${both} of ${summed}`);
    assert.ok(both > one, `${both} against ${one} for one`);
  },
);

test(
  'what a process adds beyond another is its pages the other does not map: not the binary they share',
  { skip: !root && 'page frame numbers are shown to root only' },
  () => {
    const [a, b] = pids() as [number, number];
    const added = addedBytes([a], [b]);
    const alone = physicalBytes([b]);
    assert.ok(added !== undefined && alone !== undefined);
    // b alone maps node's code too; beyond a, it adds only its own pages.
    assert.ok(added > 0 && added < alone * 0.6, `${added} added against ${alone} alone`);
    const itself = addedBytes([a], [a]);
    assert.ok(itself !== undefined && itself <= SLACK, `a process adds ${itself} beyond itself`);
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
    assert.equal(addedBytes(pids().slice(0, 1), pids().slice(1)), undefined);
  },
);
