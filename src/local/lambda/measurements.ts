/**
 * The measurements `mcp-fleet plan` reads (src/contract/measurements.ts), kept from each
 * invocation's REPORT figures: durations per tool, init durations, the memory high-water mark,
 * and the calls that overlapped on a host where they share a server process. One file per
 * server beside the dev work folder; each `dev` run adds to what is there. Written at most every
 * `flushMs` (to a temporary file renamed over it), and on `flush()`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  MEASUREMENTS_FOLDER,
  MEASUREMENTS_FORMAT,
  type ServerMeasurements,
} from '../../contract/measurements.js';
import { invocationError } from '../../contract/function-call.js';
import type { InvocationRecord } from './function.js';

/** The measurements folder of a fleet whose dev work folder is `devDir`. */
export const measurementsDir = (devDir: string): string =>
  path.join(path.dirname(devDir), MEASUREMENTS_FOLDER);

/** What the recorder needs to know of a server when one of its invocations is recorded. */
export interface MeasuredServer {
  host: string;
  memorySizeMb: number;
  /** Its environment takes several calls at once (they share its server processes). */
  multiCall: boolean;
}

/** One finished call, kept a while to find the calls it overlapped. */
interface Span {
  start: number;
  end: number;
  error: boolean;
  counted: boolean;
}

/** How long a finished call is kept to be matched against calls finishing later, ms. */
const SPAN_KEEP_MS = 15 * 60_000;

export const emptyMeasurements = (server: string, s: MeasuredServer, at: string): ServerMeasurements => ({
  format: MEASUREMENTS_FORMAT,
  server,
  host: s.host,
  memorySizeMb: s.memorySizeMb,
  firstAt: at,
  updatedAt: at,
  calls: 0,
  errors: 0,
  durationTotalMs: 0,
  durationMaxMs: 0,
  init: { count: 0, totalMs: 0, maxMs: 0 },
  maxMemoryUsedMb: 0,
  tools: {},
  overlap: { calls: 0, errors: 0, peak: 0 },
});

/** A call failed: a function error, an `isError` result, a JSON-RPC error or an HTTP error (as the status page counts). */
export function failed(r: Pick<InvocationRecord, 'functionError' | 'payload' | 'streamed'>): boolean {
  return invocationError(r) !== undefined;
}

/** Adds one invocation's REPORT figures (everything but the overlap). */
export function addInvocation(
  m: ServerMeasurements,
  r: InvocationRecord,
  s: MeasuredServer,
  at: string,
): void {
  const d = r.report.durationMs;
  const error = failed(r);
  m.host = s.host;
  m.memorySizeMb = s.memorySizeMb;
  m.updatedAt = at;
  m.calls += 1;
  if (error) m.errors += 1;
  m.durationTotalMs += d;
  m.durationMaxMs = Math.max(m.durationMaxMs, d);
  m.maxMemoryUsedMb = Math.max(m.maxMemoryUsedMb, r.report.maxMemoryUsedMb);
  const init = r.report.initDurationMs;
  if (init !== undefined) {
    m.init.count += 1;
    m.init.totalMs += init;
    m.init.maxMs = Math.max(m.init.maxMs, init);
  }
  if (r.toolName !== undefined) {
    const t = (m.tools[r.toolName] ??= { calls: 0, errors: 0, totalMs: 0, maxMs: 0 });
    t.calls += 1;
    if (error) t.errors += 1;
    t.totalMs += d;
    t.maxMs = Math.max(t.maxMs, d);
  }
}

/**
 * The calls of one server that finished lately, in the order they finished, to count those that
 * ran at the same time as another: each is counted once (the later of two to finish finds the
 * earlier), with its error; `peak` is the most calls seen running at once (a call and those it
 * overlapped). O(calls it overlapped) per call: the spans are in end order, so the look back stops
 * at the first that ended before this one began; spans older than any call can last are dropped
 * from the front.
 */
export class OverlapWindow {
  private spans: Span[] = [];
  private head = 0;

  add(m: ServerMeasurements, span: Omit<Span, 'counted'>): void {
    let overlapping = 0;
    for (let i = this.spans.length - 1; i >= this.head; i--) {
      const s = this.spans[i];
      if (s === undefined || s.end <= span.start) break;
      if (s.start >= span.end) continue;
      overlapping += 1;
      if (s.counted) continue;
      s.counted = true;
      m.overlap.calls += 1;
      if (s.error) m.overlap.errors += 1;
    }
    const next: Span = { ...span, counted: overlapping > 0 };
    if (overlapping > 0) {
      m.overlap.calls += 1;
      if (next.error) m.overlap.errors += 1;
      m.overlap.peak = Math.max(m.overlap.peak, overlapping + 1);
    }
    this.spans.push(next);
    const horizon = span.end - SPAN_KEEP_MS;
    while ((this.spans[this.head]?.end ?? Infinity) <= horizon) this.head += 1;
    if (this.head > 1024 && this.head > this.spans.length / 2) {
      this.spans = this.spans.slice(this.head);
      this.head = 0;
    }
  }

  /** Spans kept (tests). */
  get size(): number {
    return this.spans.length - this.head;
  }
}

/** Keeps each server's measurements and writes them to `dir/<id>.json`. */
export class MeasurementRecorder {
  private readonly records = new Map<string, Promise<ServerMeasurements>>();
  private readonly windows = new Map<string, OverlapWindow>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly serverOf: (id: string) => MeasuredServer | undefined,
    private readonly flushMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records the files an ended environment's later calls read after earlier calls wrote them (the
   * service's `onStateFiles`); never throws.
   */
  recordState(serverId: string, files: readonly string[]): void {
    const s = this.serverOf(serverId);
    if (s === undefined || files.length === 0) return;
    const at = new Date(this.now()).toISOString();
    this.records.set(
      serverId,
      this.load(serverId, s, at).then((m) => {
        const state = (m.state ??= { environments: 0, files: 0, examples: [], lastAt: at });
        state.environments += 1;
        state.files += files.length;
        state.lastAt = at;
        for (const f of files)
          if (state.examples.length < 5 && !state.examples.includes(f)) state.examples.push(f);
        this.dirty.add(serverId);
        this.schedule();
        return m;
      }),
    );
  }

  /** Records a request the server sent its client (the service's `onAsk`); never throws. */
  recordAsk(serverId: string, method: string): void {
    const s = this.serverOf(serverId);
    if (s === undefined) return;
    const at = new Date(this.now()).toISOString();
    this.records.set(
      serverId,
      this.load(serverId, s, at).then((m) => {
        const asks = (m.asks ??= { count: 0, methods: [], lastAt: at });
        asks.count += 1;
        asks.lastAt = at;
        if (!asks.methods.includes(method) && asks.methods.length < 10) asks.methods.push(method);
        this.dirty.add(serverId);
        this.schedule();
        return m;
      }),
    );
  }

  /** Records one invocation (the service's `onInvoke`); never throws. */
  record(r: InvocationRecord): void {
    const s = this.serverOf(r.serverId);
    if (s === undefined) return;
    const end = this.now();
    const at = new Date(end).toISOString();
    const loaded = this.load(r.serverId, s, at);
    this.records.set(
      r.serverId,
      loaded.then((m) => {
        addInvocation(m, r, s, at);
        if (s.multiCall) {
          const span = { start: end - r.report.durationMs, end, error: failed(r) };
          let window = this.windows.get(r.serverId);
          if (window === undefined) this.windows.set(r.serverId, (window = new OverlapWindow()));
          window.add(m, span);
        }
        this.dirty.add(r.serverId);
        this.schedule();
        return m;
      }),
    );
  }

  /** Writes what changed since the last write. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.records.values());
    const ids = [...this.dirty];
    this.dirty.clear();
    this.writing = this.writing.then(() => this.write(ids)).catch(() => undefined);
    await this.writing;
  }

  private load(id: string, s: MeasuredServer, at: string): Promise<ServerMeasurements> {
    const known = this.records.get(id);
    if (known) return known;
    return readFile(this.file(id), 'utf8')
      .then((text) => {
        const m = JSON.parse(text) as { format?: unknown; server?: unknown } | null;
        return m?.format === MEASUREMENTS_FORMAT && m.server === id
          ? (m as ServerMeasurements)
          : emptyMeasurements(id, s, at);
      })
      .catch(() => emptyMeasurements(id, s, at));
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private async write(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    for (const id of ids) {
      const m = await this.records.get(id);
      if (!m) continue;
      const tmp = `${this.file(id)}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(m, null, 2)}\n`);
      await rename(tmp, this.file(id));
    }
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}
