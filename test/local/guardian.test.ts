/**
 * The guardian (src/local/lambda/guardian.ts) on its own: what it kills when the service's end of
 * its stdin closes, which is what the service's death does (the SIGKILL tests of dev.test.ts and
 * hosts.test.ts go through the whole of `dev`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, test } from 'node:test';
import { GuardianProcess } from '../../src/local/lambda/guardian-process.js';
import { processState, processTree } from '../../src/platform/processes.js';
import { isAlive } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';

/** An environment-like process group: a shell, a child in its group and one in a session of its own. */
function environment(): ChildProcess {
  return spawn('/bin/sh', ['-c', 'sleep 300 & setsid sleep 301 & wait'], { detached: true, stdio: 'ignore' });
}

async function treeOf(child: ChildProcess, size: number): Promise<number[]> {
  let tree: number[] = [];
  await eventually(() => (tree = processTree(child.pid ?? 0)).length >= size, {
    what: `${size} processes under ${child.pid}`,
    seen: () => JSON.stringify(tree),
  });
  return tree;
}

describe('the guardian', () => {
  test('once the service is gone, it kills each running environment (its whole tree, other sessions too) and every frozen process; an ended environment is left alone', async () => {
    const running = environment();
    const ended = environment();
    const stopped = spawn('sleep', ['302'], { stdio: 'ignore' });
    const runningTree = await treeOf(running, 3);
    const endedTree = await treeOf(ended, 3);
    const stoppedPid = stopped.pid ?? 0;
    try {
      process.kill(stoppedPid, 'SIGSTOP');
      await eventually(() => processState(stoppedPid) === 'T', { what: 'the stopped process in state T' });
      const guardian = new GuardianProcess();
      guardian.started(running.pid ?? 0);
      guardian.started(ended.pid ?? 0);
      guardian.ended(ended.pid ?? 0);
      guardian.frozen([stoppedPid]);
      // The service's end of the guardian's stdin closes: what its death does.
      await guardian.close();
      let left: number[] = [];
      await eventually(
        async () => {
          left = [];
          for (const pid of [...runningTree, stoppedPid]) if (await isAlive(pid)) left.push(pid);
          return left.length === 0;
        },
        { what: 'the running environment and the frozen process gone', seen: () => JSON.stringify(left) },
      );
      for (const pid of endedTree)
        assert.equal(await isAlive(pid), true, `process ${pid} of the ended one is left`);
    } finally {
      for (const pid of [...endedTree, ...runningTree, stoppedPid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });

  test('a thawed process is left alone', async () => {
    const child = spawn('sleep', ['303'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    try {
      const guardian = new GuardianProcess();
      guardian.frozen([pid]);
      guardian.thawed([pid]);
      await guardian.close();
      assert.equal(await isAlive(pid), true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
