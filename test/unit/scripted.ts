/**
 * A server transport driven by a script, in process: what a stdio server would answer, without a
 * process (as the MCP SDK tests its client over in-memory transports).
 */
import type { ExitInfo } from '../../src/runtime/child.js';
import type { ServerTransport } from '../../src/runtime/connection.js';
import type { JsonRpcMessage } from '../../src/protocol/jsonrpc.js';
import type { RuntimeLogger } from '../../src/runtime/observability.js';
import type { Clock } from '../../src/platform/time.js';

export type Script = (message: JsonRpcMessage, server: ScriptedTransport) => void;

export interface ScriptedOptions {
  /** The server does not exit when its stdin is closed (a graceful close): only a kill ends it. */
  ignoresClose?: boolean;
  /** A kill has taken effect (the process group is gone) only once this resolves; default at once. */
  killTakes?: Promise<void>;
}

export class ScriptedTransport implements ServerTransport {
  onmessage?: (message: JsonRpcMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  exit: ExitInfo | undefined;
  readonly done: Promise<ExitInfo>;
  readonly sent: JsonRpcMessage[] = [];
  readonly pid = undefined;
  stderr = '';
  /** The reason of the first kill. */
  killedBecause: string | undefined;
  /** Whether a graceful close was asked for. */
  closing = false;
  private ended!: (info: ExitInfo) => void;

  constructor(
    private readonly script: Script,
    private readonly opts: ScriptedOptions = {},
  ) {
    this.done = new Promise((resolve) => (this.ended = resolve));
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  send(message: JsonRpcMessage): Promise<void> {
    if (this.exit) return Promise.reject(new Error('write EPIPE'));
    this.sent.push(message);
    queueMicrotask(() => {
      this.script(message, this);
    });
    return Promise.resolve();
  }

  /** The server writes a message. */
  write(message: Record<string, unknown>): void {
    setImmediate(() => this.onmessage?.({ jsonrpc: '2.0', ...message } as JsonRpcMessage));
  }

  /** The server exits. */
  end(info: ExitInfo): void {
    if (this.exit) return;
    this.exit = info;
    this.ended(info);
    this.onclose?.();
  }

  async close(reason = 'closed'): Promise<void> {
    this.closing = true;
    // As a real server's: a call it ends is told the server was stopped, and why.
    if (this.opts.ignoresClose === true) await this.done;
    else this.end({ code: 0, signal: null, killedBecause: reason });
  }

  async kill(reason: string): Promise<void> {
    this.killedBecause ??= reason;
    await this.opts.killTakes;
    this.end({ code: null, signal: 'SIGKILL', killedBecause: reason });
  }

  stderrTail(): string {
    return this.stderr;
  }
}

/** A small well-behaved server: initialize, tools/list, tools/call (echo, hang, crash, progress). */
export const echoServer: Script = (m, server) => {
  if (!('id' in m) || !('method' in m)) return;
  const params = m.params ?? {};
  switch (m.method) {
    case 'initialize': {
      server.write({
        id: m.id,
        result: {
          protocolVersion: params['protocolVersion'],
          capabilities: { tools: {} },
          serverInfo: { name: 'scripted', version: '1.0.0' },
        },
      });
      return;
    }
    case 'tools/list': {
      server.write({
        id: m.id,
        result: {
          tools: ['echo', 'hang', 'crash', 'secret'].map((name) => ({
            name,
            inputSchema: { type: 'object' },
          })),
        },
      });
      return;
    }
    case 'tools/call': {
      const args = (params['arguments'] ?? {}) as Record<string, unknown>;
      const token = ((params['_meta'] ?? {}) as Record<string, unknown>)['progressToken'];
      if (params['name'] === 'hang') return;
      if (params['name'] === 'crash') {
        server.stderr = 'fatal: scripted crash\n';
        server.end({ code: 7, signal: null });
        return;
      }
      if (token !== undefined)
        server.write({ method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
      server.write({ id: m.id, result: { content: [{ type: 'text', text: String(args['text']) }] } });
      return;
    }
    default: {
      server.write({ id: m.id, error: { code: -32601, message: `Method not found: ${m.method}` } });
      return;
    }
  }
};

/** {@link echoServer} whose answer to `initialize` takes `ms` on `clock`. */
export function slowInit(clock: Clock, ms: number): Script {
  return (m, server) => {
    if ('method' in m && m.method === 'initialize')
      clock.setTimeout(() => {
        echoServer(m, server);
      }, ms);
    else echoServer(m, server);
  };
}

/** {@link echoServer} that never answers `initialize`. */
export const hangInit: Script = (m, server) => {
  if (!('method' in m && m.method === 'initialize')) echoServer(m, server);
};

/** A server that exits (code 3, a line on stderr) when it reads `initialize`. */
export const crashOnStart: Script = (m, server) => {
  if (!('method' in m && m.method === 'initialize')) return;
  server.stderr = 'fatal: cannot open config\n';
  server.end({ code: 3, signal: null });
};

/** What a promise came to so far: looked at as a test's clock moves. */
export function observe<T>(promise: Promise<T>): {
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
} {
  const seen: { settled: boolean; value: T | undefined; error: unknown } = {
    settled: false,
    value: undefined,
    error: undefined,
  };
  promise.then(
    (value) => {
      Object.assign(seen, { settled: true, value });
    },
    (error: unknown) => {
      Object.assign(seen, { settled: true, error });
    },
  );
  return seen;
}

/** A logger that keeps what it was told. */
export function recorder(): RuntimeLogger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
