import { StringDecoder } from 'node:string_decoder';

/**
 * Newline framing for a child's output, with bounded memory: a line longer than the limit is not
 * kept (it is reported by its size and the rest of it is skipped up to the next newline).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowing = false;
  private overflowSize = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOverflow: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.append(chunk.subarray(start, end));
      if (nl === -1) return;
      this.finishLine();
      start = nl + 1;
    }
  }

  /** Emits what is left when the stream ends without a final newline. */
  end(): void {
    if (this.size > 0 || this.overflowing) this.finishLine();
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.overflowing) {
      this.overflowSize += piece.length;
      return;
    }
    if (this.size + piece.length > this.maxLineBytes) {
      this.overflowing = true;
      this.overflowSize = this.size + piece.length;
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(piece);
    this.size += piece.length;
  }

  private finishLine(): void {
    if (this.overflowing) {
      const bytes = this.overflowSize;
      this.overflowing = false;
      this.overflowSize = 0;
      this.onOverflow(bytes);
      return;
    }
    const line = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.onLine(line);
  }
}

/**
 * A child's stderr: forwarded line by line at a bounded rate, with the end of it kept to explain
 * a crash. Memory stays bounded under any flood.
 */
export class StderrSink {
  private tail = '';
  private windowStart = 0;
  private windowBytes = 0;
  private dropped = 0;
  private readonly splitter: LineSplitter;
  /** Keeps a character split across chunks whole in the tail. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly opts: {
      tailBytes: number;
      maxLineBytes: number;
      bytesPerSecond: number;
      forward: (line: string) => void;
      now?: () => number;
    },
  ) {
    this.splitter = new LineSplitter(
      opts.maxLineBytes,
      (line) => {
        this.emit(line.toString('utf8'));
      },
      (bytes) => {
        this.emit(`[a stderr line of ${bytes} bytes was cut]`);
      },
    );
  }

  push(chunk: Buffer): void {
    this.keep(this.decoder.write(chunk));
    this.splitter.push(chunk);
  }

  end(): void {
    this.keep(this.decoder.end());
    this.splitter.end();
    this.flushDropped();
  }

  private keep(text: string): void {
    if (text === '') return;
    const tail = (this.tail + text).slice(-this.opts.tailBytes);
    // Not half a surrogate pair at the cut.
    this.tail = /^[\uDC00-\uDFFF]/.test(tail) ? tail.slice(1) : tail;
  }

  /** The last bytes the child wrote to stderr. */
  lastOutput(): string {
    return this.tail.trim();
  }

  private emit(line: string): void {
    const now = (this.opts.now ?? Date.now)();
    if (now - this.windowStart >= 1000) {
      this.flushDropped();
      this.windowStart = now;
      this.windowBytes = 0;
    }
    const bytes = Buffer.byteLength(line);
    if (this.windowBytes + bytes > this.opts.bytesPerSecond) {
      this.dropped += bytes;
      return;
    }
    this.windowBytes += bytes;
    this.opts.forward(line);
  }

  private flushDropped(): void {
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.opts.forward(
        `[${n} bytes of stderr dropped: more than ${this.opts.bytesPerSecond} bytes per second]`,
      );
    }
  }
}
