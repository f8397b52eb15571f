/**
 * `invoke` and `tools` for the servers that have no Lambda Invoke: a web function (reached on its
 * endpoint) and an AgentCore Runtime (on its invocation URL). In a running dev fleet they are
 * called over MCP at `/servers/<id>/mcp`, with the MCP SDK's client; against AWS the commands say
 * where such a server is reached instead.
 */
import { readFile } from 'node:fs/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../config/index.js';
import type { Host } from '../../config/limits.js';
import { DEFAULT_PORT } from '../../local/dev/defaults.js';
import { CliError } from '../exit.js';
import { devStateFile, type LambdaTargetOptions } from './lambda-client.js';

/** The hosts whose servers AWS does not run as Lambda functions one may Invoke. */
const NO_INVOKE: readonly Host[] = ['web-function', 'agentcore-runtime'];

/** The config's servers on those hosts (id → host); none when the config cannot be read. */
export async function serversWithoutInvoke(configFile: string): Promise<Map<string, Host>> {
  const { config } = await loadConfig(configFile).catch(() => ({ config: undefined }));
  const found = new Map<string, Host>();
  for (const s of config?.servers ?? [])
    if (NO_INVOKE.includes(s.hosting.host)) found.set(s.id, s.hosting.host);
  return found;
}

/**
 * The MCP URL of a server without Lambda Invoke in the dev fleet, or undefined when `server` is
 * not one. Against AWS (--region), a CliError that says how such a server is reached.
 */
export async function serverMcpUrl(server: string, opts: LambdaTargetOptions): Promise<string | undefined> {
  const id = server.replace(/^mcp-server-/, '');
  const host = (await serversWithoutInvoke(opts.config)).get(id);
  if (host === undefined) return undefined;
  if (opts.endpoint === undefined && opts.region !== undefined)
    throw new CliError(
      `${id} runs on host ${host}, which has no Lambda Invoke; call it through the gateway (mcp-fleet verify --region ${opts.region} --gateway-url URL)`,
    );
  return `${await devUrl(opts)}/servers/${encodeURIComponent(id)}/mcp`;
}

/** The dev fleet's URL: --endpoint, else its state file's, else the default port. */
async function devUrl(opts: LambdaTargetOptions): Promise<string> {
  if (opts.endpoint !== undefined) return opts.endpoint.replace(/\/+$/, '');
  try {
    return (JSON.parse(await readFile(devStateFile(opts.config), 'utf8')) as { url: string }).url;
  } catch {
    return `http://127.0.0.1:${DEFAULT_PORT}`;
  }
}

/** Runs `use` with an MCP client connected to `url` (the dev fleet's token, if any, sent along). */
export async function withMcpClient<T>(
  url: string,
  token: string | undefined,
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ name: 'mcp-fleet', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: token !== undefined ? { 'x-mcp-fleet-token': token } : {} },
  });
  try {
    await client.connect(transport);
  } catch (err) {
    const message = (err as Error).message;
    throw new CliError(
      /ECONNREFUSED|fetch failed/.test(message)
        ? `nothing answers at ${url}; start the fleet with \`mcp-fleet dev\`, or give --endpoint`
        : `${url}: ${message}`,
    );
  }
  try {
    return await use(client);
  } finally {
    // A runtime's session ends with the command (DELETE), not at its idle timeout.
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  }
}
