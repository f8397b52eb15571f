// A function's log file written in batches (src/local/lambda/log-file.ts): what one turn of the
// event loop writes lands in the file at the end of that turn, in order, and a failing disk
// loses lines without an error that would end `dev`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { LogFile } from '../../src/local/lambda/log-file.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-log-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});
let n = 0;
const fresh = (): string => path.join(work, `function-${++n}.log`);
const read = (file: string): string => readFileSync(file, 'utf8');

test('the lines of one turn are in the file, in order, once the turn ends', async () => {
  const file = fresh();
  const log = new LogFile(file);
  log.write('START a\n');
  log.write(Buffer.from('out of a\n'));
  log.write('END a\n');
  assert.equal(read(file), '', 'nothing is written during the turn');
  await turn();
  assert.equal(read(file), 'START a\nout of a\nEND a\n');
  log.write('START b\n');
  await turn();
  assert.equal(read(file), 'START a\nout of a\nEND a\nSTART b\n');
  await new Promise<void>((resolve) => log.end(resolve));
});

test('flush writes at once; a batch past its bound is written without waiting for the turn', async () => {
  const file = fresh();
  const log = new LogFile(file, 64);
  log.write('one\n');
  log.flush();
  assert.equal(read(file), 'one\n');
  const long = `${'x'.repeat(70)}\n`;
  log.write(long);
  assert.equal(read(file), `one\n${long}`);
  await new Promise<void>((resolve) => log.end(resolve));
});

test('end writes what is left and closes the file; the file is appended to, never truncated', async () => {
  const file = fresh();
  const first = new LogFile(file);
  first.write('from the first\n');
  await new Promise<void>((resolve) => first.end(resolve));
  assert.equal(read(file), 'from the first\n');
  assert.equal(first.closed, true);
  const second = new LogFile(file);
  second.write('from the second\n');
  await new Promise<void>((resolve) => second.end(resolve));
  assert.equal(read(file), 'from the first\nfrom the second\n');
});

test("an environment's output piped in keeps its place among the function's own lines", async () => {
  const file = fresh();
  const log = new LogFile(file);
  log.write('START\n');
  const output = Readable.from(['line 1\n', 'line 2\n']);
  output.pipe(log, { end: false });
  await new Promise((resolve) => output.on('end', resolve));
  log.write('END\n');
  await new Promise<void>((resolve) => log.end(resolve));
  assert.equal(read(file), 'START\nline 1\nline 2\nEND\n');
});

test('a disk that fails loses the batch, keeps the error and throws nothing', async () => {
  const log = new LogFile('/dev/full');
  let emitted: unknown;
  log.on('error', (error) => {
    emitted = error;
  });
  log.write('lost\n');
  assert.doesNotThrow(() => {
    log.flush();
  });
  assert.match(String(log.failure?.message), /ENOSPC/);
  log.write('also lost\n');
  await turn();
  await new Promise<void>((resolve) => log.end(resolve));
  assert.equal(emitted, undefined);
  assert.equal(log.closed, true);
});
