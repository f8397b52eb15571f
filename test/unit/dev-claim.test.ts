// One `mcp-fleet dev` per config (src/local/dev/claim.ts): a claim held by a running process is
// refused with its process id and URL; a claim of a process that is gone, or one that cannot be
// read, is taken over; a release removes only this process's own claim. Real processes stand in
// for the other `dev`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { claimDevFiles, DevBusyError } from '../../src/local/dev/claim.js';

let dir: string;
let claimFile: string;
let stateFile: string;
const config = '/work/servers.yaml';

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-claim-'));
  claimFile = path.join(dir, '.mcp-fleet', 'dev.claim');
  stateFile = path.join(dir, '.mcp-fleet', 'dev.json');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that runs until it is killed (the other `dev`). */
async function otherProcess(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  assert.ok(child.pid !== undefined);
  return child as ChildProcess & { pid: number };
}

/** The process id the claim file names. */
async function holder(): Promise<number> {
  return (JSON.parse(await readFile(claimFile, 'utf8')) as { pid: number }).pid;
}

async function ended(child: ChildProcess): Promise<void> {
  const exit = once(child, 'exit');
  child.kill('SIGKILL');
  await exit;
}

describe('claimDevFiles', () => {
  test('a claim holds this process id and the config; released, it is gone and nothing is left beside it', async () => {
    const claim = await claimDevFiles(claimFile, stateFile, config);
    assert.deepEqual(JSON.parse(await readFile(claimFile, 'utf8')), { pid: process.pid, config });
    await claim.release();
    assert.equal(existsSync(claimFile), false);
    assert.deepEqual(readdirSync(path.dirname(claimFile)), []);
  });

  test('a claim of a running process is refused with its id and the URL it serves', async () => {
    const other = await otherProcess();
    try {
      await writeFile(claimFile, JSON.stringify({ pid: other.pid, config }));
      await writeFile(stateFile, JSON.stringify({ url: 'http://127.0.0.1:4040', pid: other.pid, config }));
      await assert.rejects(
        claimDevFiles(claimFile, stateFile, config),
        (err: unknown) =>
          err instanceof DevBusyError &&
          err.pid === other.pid &&
          err.message.includes(
            `another mcp-fleet dev (process ${other.pid}, at http://127.0.0.1:4040) runs ${config}`,
          ),
      );
      // Its state file not yet written (still building): said so.
      await rm(stateFile);
      await assert.rejects(
        claimDevFiles(claimFile, stateFile, config),
        new RegExp(`process ${other.pid}, still starting\\) runs`),
      );
      assert.equal(await holder(), other.pid, 'the claim is untouched');
    } finally {
      await ended(other);
    }
    // Gone (a dev killed outright): its claim is taken over.
    const claim = await claimDevFiles(claimFile, stateFile, config);
    assert.equal(await holder(), process.pid);
    await claim.release();
  });

  test('a claim that cannot be read is taken over', async () => {
    for (const text of ['', '{"pid":', '{"pid":"12"}', '{"pid":-4}']) {
      await writeFile(claimFile, text);
      const claim = await claimDevFiles(claimFile, stateFile, config);
      assert.equal(await holder(), process.pid, text);
      await claim.release();
    }
  });

  test('a release leaves a claim that is no longer this process’s', async () => {
    const claim = await claimDevFiles(claimFile, stateFile, config);
    const other = await otherProcess();
    try {
      await writeFile(claimFile, JSON.stringify({ pid: other.pid, config }));
      await claim.release();
      assert.equal(await holder(), other.pid);
    } finally {
      await ended(other);
      await rm(claimFile, { force: true });
    }
  });
});
