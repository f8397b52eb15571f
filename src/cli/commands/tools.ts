import { listTools } from '../../contract/function-call.js';
import { CliError, EXIT } from '../exit.js';
import {
  functionName,
  invokeJson,
  lambdaClient,
  listFleetFunctions,
  type LambdaTargetOptions,
} from './lambda-client.js';
import { serverMcpUrl, serversWithoutInvoke, withMcpClient } from './server-mcp.js';

export interface ToolsOptions extends LambdaTargetOptions {
  json?: boolean;
}

/** Lists the tools of one server, or of every `mcp-server-*` function, through the Lambda API. */
export async function toolsCommand(server: string | undefined, opts: ToolsOptions): Promise<number> {
  const { client } = await lambdaClient(opts);
  // A web function or a runtime has no Lambda Invoke (nor a place in ListFunctions): the dev
  // fleet serves it over MCP.
  const names =
    server !== undefined
      ? [functionName(server)]
      : [
          ...(await listFleetFunctions(client)),
          ...(opts.region !== undefined && opts.endpoint === undefined
            ? []
            : [...(await serversWithoutInvoke(opts.config)).keys()].map(functionName)),
        ];
  const all: Record<string, { name: string; description?: string }[] | { error: string }> = {};
  let failed = false;
  for (const name of names) {
    try {
      const mcpUrl = await serverMcpUrl(name, opts);
      const tools =
        mcpUrl !== undefined
          ? ((await withMcpClient(mcpUrl, opts.token, async (c) => (await c.listTools()).tools)) as Record<
              string,
              unknown
            >[])
          : await listTools((event) => invokeJson(client, name, event), 'tools');
      all[name] = tools.map((t) => ({
        name: String(t['name']),
        ...(typeof t['description'] === 'string' ? { description: t['description'] } : {}),
      }));
    } catch (err) {
      if (err instanceof CliError) throw err;
      failed = true;
      all[name] = { error: (err as Error).message };
    }
  }
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
  } else {
    for (const [name, tools] of Object.entries(all)) {
      if (!Array.isArray(tools)) {
        process.stdout.write(`${name}: FAILED ${tools.error}\n`);
        continue;
      }
      process.stdout.write(`${name} (${tools.length} tools)\n`);
      for (const t of tools)
        process.stdout.write(
          `  ${t.name}${t.description !== undefined ? `  ${t.description.split('\n')[0]?.slice(0, 100) ?? ''}` : ''}\n`,
        );
    }
  }
  return failed ? EXIT.FAILURE : EXIT.OK;
}
