/**
 * What the benchmarks that call MCP fronts share: an MCP SDK client on a Streamable HTTP URL, and
 * the wait for a front just started to serve.
 */
import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** A connected MCP client of `url` (initialized), named `name` to the server. */
export async function connect(url: URL, name: string): Promise<Client> {
  const client = new Client({ name, version: '1' });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

/** Waits (at most a minute) until `url` takes an MCP client; throws if `child` exits first. */
export async function waitForMcp(url: URL, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`exited with ${String(child.exitCode)} before it served`);
    try {
      const c = await connect(url, 'bench-probe');
      await c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url.href} did not come up`);
}
