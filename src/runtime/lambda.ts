/**
 * The entry of a deployed function: reads the server's launch spec (`launch.json` beside this
 * file, in the function root, or the file named by MCP_FLEET_LAUNCH_FILE), starts the server
 * during Lambda's init phase, and exports `handler`.
 */
import { FUNCTION_ENV } from '../contract/function-env.js';
import { createHandler } from './handler.js';
import { readLaunchFile } from './launch-file.js';
import { awsLambdaStreaming, streamingHandler } from './streaming.js';

/** Environment variables this entry reads (the contract's names). */
const ENV = FUNCTION_ENV;

const { launch } = readLaunchFile(import.meta.url);
const front = process.env[ENV.front];
const allowOrigin = process.env[ENV.allowOrigin];

const mcpHandler = createHandler(launch, {
  ...(front === 'agentcore' || front === 'http' || front === 'jsonrpc' ? { front } : {}),
  throwOnError: process.env[ENV.throwOnError] === 'true',
  ...(allowOrigin !== undefined && allowOrigin !== '' ? { allowOrigin } : {}),
});

// In response-streaming mode (an MCP-server target's Function URL) and in Lambda's Node.js
// runtime, the handler writes to the response stream; otherwise it returns its answer.
const streaming = process.env[ENV.responseStream] === 'true' ? awsLambdaStreaming() : undefined;
export const handler: unknown =
  streaming === undefined ? mcpHandler : streaming.streamifyResponse(streamingHandler(mcpHandler, streaming));

// The server starts during init; `ready` waits for its handshake at most the init budget (below
// Lambda's 10 s init limit, ServerSupervisor.warmup) and never stops the start. Calls reuse it.
await mcpHandler.ready;
