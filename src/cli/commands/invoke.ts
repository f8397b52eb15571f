import { TOOL_NAME_DELIMITER } from '../../config/limits.js';
import { agentCoreClientContext, isErrorResult } from '../../contract/function-call.js';
import { CliError, EXIT } from '../exit.js';
import { functionName, invokeJson, lambdaClient, type LambdaTargetOptions } from './lambda-client.js';
import { serverMcpUrl, withMcpClient } from './server-mcp.js';

export interface InvokeOptions extends LambdaTargetOptions {
  json?: boolean;
}

/** Calls one tool the way AgentCore Gateway does: arguments as the event, the tool name in the client context. */
export async function invokeCommand(
  server: string,
  tool: string,
  argsJson: string | undefined,
  opts: InvokeOptions,
): Promise<number> {
  let args: unknown = {};
  if (argsJson !== undefined) {
    try {
      args = JSON.parse(argsJson);
    } catch (err) {
      throw new CliError(
        `the arguments are not JSON: ${(err as Error).message}; e.g. '{"path": "README.md"}'`,
        EXIT.USAGE,
      );
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new CliError('the arguments must be a JSON object', EXIT.USAGE);
  }
  const name = functionName(server);
  const target = name.replace(/^mcp-server-/, '');
  // A web function or a runtime has no Lambda Invoke: the dev fleet serves it over MCP.
  const mcpUrl = await serverMcpUrl(server, opts);
  const { payload, functionError } =
    mcpUrl !== undefined
      ? await withMcpClient(mcpUrl, opts.token, async (c) => ({
          payload: await c.callTool({ name: tool, arguments: args as Record<string, unknown> }),
          functionError: undefined,
        })).catch((err: unknown) => {
          if (err instanceof CliError) throw err;
          throw new CliError(`${name}: ${(err as Error).message}`);
        })
      : await invokeJson(
          (await lambdaClient(opts)).client,
          name,
          args,
          agentCoreClientContext({ toolName: `${target}${TOOL_NAME_DELIMITER}${tool}`, messageId: 'invoke' }),
        );
  if (opts.json === true) {
    process.stdout.write(
      `${JSON.stringify(functionError !== undefined ? { functionError, payload } : payload, null, 2)}\n`,
    );
  } else if (functionError !== undefined) {
    const p = payload as { errorType?: string; errorMessage?: string };
    process.stderr.write(
      `${name} failed (${functionError}): ${p.errorType ?? ''} ${p.errorMessage ?? JSON.stringify(payload)}\n`,
    );
  } else {
    const r = payload as { content?: { type: string; text?: string }[]; isError?: boolean };
    for (const c of r.content ?? [])
      process.stdout.write(c.type === 'text' ? `${c.text ?? ''}\n` : `[${c.type} content]\n`);
  }
  const failed = functionError !== undefined || isErrorResult(payload);
  return failed ? EXIT.FAILURE : EXIT.OK;
}
