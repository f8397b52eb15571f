/**
 * A graceful end for an HTTP server whose requests wait on other processes (MCP servers, Lambda
 * environments): it stops taking connections, ends the work in flight (which answers each waiting
 * request with an error), lets those answers be written, then drops what is left. Cutting the
 * connections first would leave a client waiting on a stream that ends without its answer (the
 * MCP SDK's client then waits for its own timeout).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { within } from './time.js';

/** The responses of `server` begun and not ended yet; GET and HEAD (event streams) left out. */
export class OpenResponses {
  private readonly open = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  constructor(server: Server) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET' || req.method === 'HEAD') return;
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        if (this.open.size > 0) return;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      });
    });
  }

  get size(): number {
    return this.open.size;
  }

  /** Resolves once none is open. */
  ended(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * Closes `server` once the work its requests wait for has ended: `settle` (which answers each of
 * them, with an error), then at most `graceMs` for those answers, then no new connections and
 * every connection dropped. Resolves once the server is closed.
 *
 * `server.close()` comes last on purpose: it also closes the connections Node.js counts as idle,
 * and Node.js counts a connection idle once its request has been read, even while its answer is
 * pending: a call waiting on a server was cut (the client saw "fetch failed") before it could be
 * answered. A request that comes in the meantime is served, and answered as the stopped work
 * answers (an error).
 */
export async function closeAfterAnswers(
  server: Server,
  open: OpenResponses,
  settle: () => Promise<unknown>,
  graceMs: number,
): Promise<void> {
  try {
    await settle();
  } finally {
    await within(open.ended(), graceMs, { unref: true });
  }
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  server.closeAllConnections();
  await closed;
}
