/**
 * The entry of a deployed function: reads the server's launch spec (`launch.json` beside this
 * file, in the function root, or the file named by MCP_FLEET_LAUNCH_FILE), starts the server
 * during Lambda's init phase, and exports `handler`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTION_ENV, LAUNCH_FILE_NAME } from '../contract/function-env.js';
import { createHandler, type LaunchInput } from './handler.js';
import { awsLambdaStreaming, streamingHandler } from './streaming.js';

/** Environment variables this entry reads (the contract's names). */
const ENV = FUNCTION_ENV;

function launchFile(): string {
  const explicit = process.env[ENV.launchFile];
  if (explicit !== undefined && explicit !== '') return explicit;
  return path.join(path.dirname(fileURLToPath(import.meta.url)), LAUNCH_FILE_NAME);
}

const file = launchFile();
let launch: LaunchInput;
try {
  launch = JSON.parse(readFileSync(file, 'utf8')) as LaunchInput;
} catch (err) {
  throw new Error(`mcp-fleet: cannot read the launch spec ${file}: ${(err as Error).message}`, {
    cause: err,
  });
}
// A staged function keeps its server's executables in folders relative to the launch file.
if (launch.path !== undefined && launch.path.length > 0) {
  const dirs = launch.path.map((d) => path.resolve(path.dirname(file), d));
  launch.env = {
    ...launch.env,
    PATH: [...dirs, launch.env?.['PATH'] ?? process.env['PATH'] ?? ''].join(':'),
  };
}
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
