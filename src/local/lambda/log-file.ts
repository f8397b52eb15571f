/**
 * A function's log file, written in batches: what is written during one turn of the event loop
 * goes to the file in one synchronous append at the end of that turn.
 *
 * Why not `fs.createWriteStream`: it sends every write to libuv's thread pool, and a warm call
 * writes two or three times (START; the environment's output; END and REPORT). Each of those
 * wakes a pool thread and then the event loop again: `dev`'s context switches per call were
 * 10.8 at one client, 2.8 with this (docs/benchmarks.md). An append to a regular file lands in the
 * page cache, as Node.js's own writes to a file-backed stdout do, so the batch is written
 * synchronously. A batch past `maxBuffered` bytes is written at once.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

const MAX_BUFFERED = 1 << 20;

export class LogFile extends Writable {
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  /** The last error writing the file, if any: that batch is lost, the function goes on. */
  failure: Error | undefined;

  constructor(
    readonly file: string,
    private readonly maxBuffered = MAX_BUFFERED,
  ) {
    super({ decodeStrings: true });
    this.fd = openSync(file, 'a');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.add(chunk);
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.flush();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.flush();
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already gone
      }
      this.fd = undefined;
    }
    done(error);
  }

  /** Writes what is buffered now; after it returns, every line written so far is in the file. */
  flush(): void {
    const { pending, pendingBytes } = this;
    this.pending = [];
    this.pendingBytes = 0;
    if (pendingBytes === 0 || this.fd === undefined) return;
    const data = Buffer.concat(pending, pendingBytes);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    } catch (error) {
      this.failure = error as Error;
    }
  }

  private add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.maxBuffered) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }
}
