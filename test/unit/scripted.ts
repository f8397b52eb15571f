/**
 * A server transport driven by a script, in process: what a stdio server would answer, without a
 * process (as the MCP SDK tests its client over in-memory transports).
 */
import type { ExitInfo } from '../../src/runtime/child.js';
import type { ServerTransport } from '../../src/runtime/connection.js';
import type { JsonRpcMessage } from '../../src/protocol/jsonrpc.js';
import type { RuntimeLogger } from '../../src/runtime/observability.js';

export type Script = (message: JsonRpcMessage, server: ScriptedTransport) => void;

export class ScriptedTransport implements ServerTransport {
  onmessage?: (message: JsonRpcMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  exit: ExitInfo | undefined;
  readonly done: Promise<ExitInfo>;
  readonly sent: JsonRpcMessage[] = [];
  readonly pid = undefined;
  stderr = '';
  killedBecause: string | undefined;
  private ended!: (info: ExitInfo) => void;

  constructor(private readonly script: Script) {
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

  close(): Promise<void> {
    this.end({ code: 0, signal: null });
    return Promise.resolve();
  }

  kill(reason: string): Promise<void> {
    this.killedBecause = reason;
    this.end({ code: null, signal: 'SIGKILL', killedBecause: reason });
    return Promise.resolve();
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

/** A logger that keeps what it was told. */
export function recorder(): RuntimeLogger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
