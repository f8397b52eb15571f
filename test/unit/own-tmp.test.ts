/**
 * An environment's own /tmp outside the sandbox (src/local/lambda/own-tmp.ts): which configured
 * values name Lambda's /tmp and where they go, the folder and launch spec an environment gets,
 * and the folders a dead dev process left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LaunchSpec } from '../../src/config/model.js';
import { FUNCTION_ENV } from '../../src/contract/function-env.js';
import {
  filesReadAfterWrite,
  inOwnTmp,
  launchInOwnTmp,
  ownTmp,
  sweepOrphanTmp,
  tmpValues,
} from '../../src/local/lambda/own-tmp.js';

const OWN = '/work/env-1/tmp';
/** The machine's /tmp as these tests see it: only /tmp/checkout is a folder there. */
const hostDir = (p: string): boolean => p === '/tmp/checkout';

const spec = (over: Partial<LaunchSpec> = {}): LaunchSpec => ({
  id: 's',
  name: 's',
  command: 'server',
  args: [],
  env: {},
  shell: false,
  timeout: 30,
  isolation: 'warm',
  recycle: {},
  tools: { allow: [], deny: [], rename: {} },
  secrets: {},
  ...over,
});

describe('which values name Lambda’s /tmp', () => {
  test('/tmp and paths under it go into the environment’s folder', () => {
    assert.equal(inOwnTmp('/tmp', OWN, hostDir), OWN);
    assert.equal(inOwnTmp('/tmp/', OWN, hostDir), `${OWN}/`);
    assert.equal(inOwnTmp('/tmp/memory.json', OWN, hostDir), `${OWN}/memory.json`);
    assert.equal(inOwnTmp('/tmp/repo/sub/', OWN, hostDir), `${OWN}/repo/sub/`);
    assert.equal(inOwnTmp('/tmp//a/./b', OWN, hostDir), `${OWN}/a/b`);
  });

  test('other paths, look-alikes and a folder of the machine’s /tmp are left', () => {
    for (const v of ['/tmpfiles/x', '/var/tmp/x', 'tmp/x', '/tmp/../etc/passwd', 'https://x/tmp/y', '']) {
      assert.equal(inOwnTmp(v, OWN, hostDir), undefined, v);
    }
    assert.equal(inOwnTmp('/tmp/checkout', OWN, hostDir), undefined);
    assert.equal(inOwnTmp('/tmp/checkout/file', OWN, hostDir), undefined);
  });

  test('in a launch spec: env values, arguments (whole, or --name=VALUE) and cwd; nothing else', () => {
    const before = spec({
      command: '/tmp/bin/server',
      args: ['--repository', '/tmp/repo', '--cache=/tmp/c', '--mine=/tmp/checkout/x', '-x', 'a=/tmp/b'],
      env: { MEMORY_FILE_PATH: '/tmp/memory.json', KEEP: '/tmp/checkout', OTHER: 'value' },
      cwd: '/tmp',
      path: ['bin'],
    });
    const after = launchInOwnTmp(before, OWN, hostDir);
    assert.deepEqual(after.args, [
      '--repository',
      `${OWN}/repo`,
      `--cache=${OWN}/c`,
      '--mine=/tmp/checkout/x',
      '-x',
      'a=/tmp/b',
    ]);
    assert.deepEqual(after.env, {
      MEMORY_FILE_PATH: `${OWN}/memory.json`,
      KEEP: '/tmp/checkout',
      OTHER: 'value',
    });
    assert.equal(after.cwd, OWN);
    assert.equal(after.command, '/tmp/bin/server', 'the command is the server’s program: not moved');
    assert.deepEqual(before.env['MEMORY_FILE_PATH'], '/tmp/memory.json', 'the spec given is not changed');
    assert.deepEqual(
      tmpValues(before, OWN, hostDir).map((v) => [v.where, v.own ?? 'shared']),
      [
        ['env MEMORY_FILE_PATH', `${OWN}/memory.json`],
        ['env KEEP', 'shared'],
        ['args[1]', `${OWN}/repo`],
        ['args[2]', `--cache=${OWN}/c`],
        ['args[3]', 'shared'],
        ['cwd', OWN],
      ],
    );
  });
});

describe('an environment’s folder', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-own-tmp-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('its TMPDIR, its own launch spec beside it (staged folders still found), removed by dispose', async () => {
    const stage = path.join(base, 'stage');
    mkdirSync(stage);
    const file = path.join(stage, 'launch.json');
    writeFileSync(file, JSON.stringify(spec({ env: { F: '/tmp/f.json' }, path: ['bin', '/abs'] })));
    let disposedBefore = false;
    const own = ownTmp(
      {
        command: 'node',
        args: [],
        cwd: base,
        env: { [FUNCTION_ENV.launchFile]: file, KEEP: 'yes' },
        dispose: () => {
          disposedBefore = true;
          return Promise.resolve();
        },
      },
      base,
    );
    assert.ok(existsSync(own.dir));
    assert.equal(own.launch.env['TMPDIR'], own.dir);
    assert.equal(own.launch.env['KEEP'], 'yes');
    const copy = own.launch.env[FUNCTION_ENV.launchFile];
    assert.ok(copy !== undefined && copy !== file && !copy.startsWith(`${own.dir}/`), 'not in its /tmp');
    const read = JSON.parse(readFileSync(copy, 'utf8')) as LaunchSpec;
    assert.equal(read.env['F'], path.join(own.dir, 'f.json'));
    assert.deepEqual(read.path, [path.join(stage, 'bin'), '/abs']);
    await own.launch.dispose?.();
    assert.equal(disposedBefore, true);
    assert.equal(existsSync(path.dirname(own.dir)), false);
  });

  test('a launch file that cannot be read is left to the environment to report', async () => {
    const own = ownTmp(
      {
        command: 'node',
        args: [],
        cwd: base,
        env: { [FUNCTION_ENV.launchFile]: '/nonexistent/launch.json' },
      },
      base,
    );
    assert.equal(own.launch.env[FUNCTION_ENV.launchFile], '/nonexistent/launch.json');
    await own.launch.dispose?.();
  });

  test('the folders of a dev process that died are swept; a running one’s are kept', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    }).stdout;
    assert.match(dead, /^\d+$/);
    const mine = ownTmp({ command: 'node', args: [], cwd: base, env: {} }, base);
    const orphan = path.join(base, `mcp-fleet-env-${dead}-abc`);
    mkdirSync(path.join(orphan, 'tmp'), { recursive: true });
    const other = path.join(base, 'mcp-fleet-sandbox-x');
    mkdirSync(other);
    assert.equal(sweepOrphanTmp(base), 1);
    assert.equal(existsSync(orphan), false);
    assert.equal(existsSync(mine.dir), true);
    assert.equal(existsSync(other), true, 'not an environment’s folder');
  });
});

describe('files a later call read after an earlier call wrote them', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-read-later-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A file with its last read and write at the given times (epoch ms). */
  const file = (rel: string, written: number, read: number): void => {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, rel);
    utimesSync(p, read / 1000, written / 1000);
  };

  test('a call between the write and the read: found; the same call, never read, or the runtime’s own folders: not', () => {
    const t = Date.UTC(2026, 11, 3, 12, 0, 0);
    // Calls began at t, t+10 s and t+20 s.
    const starts = [t, t + 10_000, t + 20_000];
    file('memory.jsonl', t + 1_000, t + 12_000); // written in call 1, read in call 2
    file('clone/.git/HEAD', t + 2_000, t + 25_000); // written in call 1, read in call 3
    file('scratch.txt', t + 11_000, t + 11_500); // written and read back in call 2
    file('output.png', t + 15_000, t + 14_000); // written, never read since
    file('mcp-fleet/s/home/.config', t + 1_000, t + 21_000); // the runtime's HOME
    assert.deepEqual(filesReadAfterWrite(dir, starts), ['clone/.git/HEAD', 'memory.jsonl']);
    // One call alone cannot leave anything for a later one.
    assert.deepEqual(filesReadAfterWrite(dir, [t]), []);
  });
});
