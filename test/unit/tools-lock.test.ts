/**
 * The lock that lets one test file at a time install the Lambda tools (scripts/lambda-tools.ts):
 * a lock whose owner is gone is taken over; a live owner's is waited for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { locked } from '../../scripts/lambda-tools.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-lock-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The id of a process that has ended. */
async function goneProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(child.pid !== undefined);
  return child.pid;
}

test('a lock left by a process that is gone (killed mid-install) is taken over', async () => {
  const tools = path.join(dir, 'stale');
  await mkdir(path.join(tools, '.lock'), { recursive: true });
  await writeFile(path.join(tools, '.lock', 'pid'), String(await goneProcess()));
  const ran = await locked(tools, () => Promise.resolve(existsSync(path.join(tools, '.lock'))));
  assert.equal(ran, true, 'the work ran holding the lock');
  assert.equal(existsSync(path.join(tools, '.lock')), false, 'and let it go');
});

test('a lock that has named no owner for over a minute is taken over', async () => {
  const tools = path.join(dir, 'unnamed');
  await mkdir(path.join(tools, '.lock'), { recursive: true });
  const twoMinutesAgo = new Date(Date.now() - 120_000);
  await utimes(path.join(tools, '.lock'), twoMinutesAgo, twoMinutesAgo);
  assert.equal(await locked(tools, () => Promise.resolve('ran')), 'ran');
  assert.equal(existsSync(path.join(tools, '.lock')), false);
});

test("a live owner's lock is waited for: the work runs once it is let go", async () => {
  const tools = path.join(dir, 'held');
  await mkdir(path.join(tools, '.lock'), { recursive: true });
  await writeFile(path.join(tools, '.lock', 'pid'), String(process.pid));
  let released = false;
  const work = locked(tools, () => Promise.resolve(released));
  // The owner (this process, alive) lets go after the waiter has seen the lock a few times.
  await new Promise((resolve) => setTimeout(resolve, 500));
  released = true;
  await rm(path.join(tools, '.lock'), { recursive: true });
  assert.equal(await work, true, 'the work ran only after the owner let go');
});
