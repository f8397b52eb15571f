/**
 * PseudoFile: a kernel file read again and again through one open descriptor (the cgroup's memory
 * figures on every invocation), each read the file's text at that moment.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PseudoFile } from '../../src/platform/processes.js';

test('each read is the text at that moment (a kernel file made anew on every read)', () => {
  const stat = new PseudoFile(`/proc/${process.pid}/stat`);
  const first = stat.read();
  assert.ok(first?.startsWith(`${process.pid} (`), first);
  // The process's own figures move between two reads (utime/minflt): read again through the same
  // descriptor, the text is the new one, never the first read's tail or a stale copy.
  let changed = false;
  for (let i = 0; i < 200 && !changed; i++) {
    Buffer.alloc(1 << 20).fill(i); // some work, so that its counters move
    const again = stat.read();
    assert.ok(again?.startsWith(`${process.pid} (`), again);
    changed = again !== first;
  }
  assert.ok(changed, 'a later read sees the new figures');
  stat.close();
});

test('a file longer than the first buffer is read whole', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-pseudo-'));
  try {
    const file = path.join(dir, 'long');
    const text = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n');
    await writeFile(file, text);
    const long = new PseudoFile(file);
    assert.equal(long.read(), text);
    await writeFile(file, 'short');
    assert.equal(long.read(), 'short', 'read from its start again, not where the last read ended');
    long.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that is not there, or went away, reads undefined, and closing twice is harmless', async () => {
  assert.equal(new PseudoFile('/proc/0/none').read(), undefined);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-pseudo-'));
  const file = path.join(dir, 'gone');
  await writeFile(file, 'here');
  const f = new PseudoFile(file);
  assert.equal(f.read(), 'here');
  f.close();
  f.close();
  await rm(dir, { recursive: true, force: true });
  assert.equal(f.read(), undefined, 'reopened after close: the file is gone');
});
