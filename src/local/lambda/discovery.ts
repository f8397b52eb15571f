/**
 * Tool discovery for `build`: the staged server runs in a local Lambda environment (the handler
 * every function runs) and its tools are listed. Secrets are not read (no AWS): their variables
 * get a placeholder.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DiscoveryRequest, ToolDiscovery } from '../../build/build.js';
import { BuildError } from '../../build/exec.js';
import { toLaunchSpec, type LaunchSpec } from '../../config/model.js';
import { listTools } from '../../contract/function-call.js';
import { functionUrlEvent, StreamedHttpReader } from './function-url.js';
import { LocalLambda } from './service.js';

/** A server that does not answer tools/list within this long fails discovery. */
const DISCOVERY_TIMEOUT_MS = 60_000;
/** Secrets are not read at discovery: the variables get this value instead. */
export const DISCOVERY_SECRET_PLACEHOLDER = 'mcp-fleet-discovery-placeholder';

export const discoverLocally: ToolDiscovery = async ({
  server,
  launchFile,
  workDir,
  cwd,
}: DiscoveryRequest) => {
  const spec =
    (await readFile(launchFile, 'utf8')
      .then((t) => JSON.parse(t) as LaunchSpec)
      .catch(() => undefined)) ?? toLaunchSpec(server);
  const discoverFile = path.join(path.dirname(launchFile), 'discover.json');
  const placeholders = Object.fromEntries(
    Object.keys(spec.secrets).map((k) => [k, DISCOVERY_SECRET_PLACEHOLDER]),
  );
  await writeFile(
    discoverFile,
    `${JSON.stringify({ ...spec, env: { ...spec.env, ...placeholders }, secrets: {} }, null, 2)}\n`,
  );
  await rm(workDir, { recursive: true, force: true });
  const lambda = new LocalLambda(
    [{ ...server, timeout: Math.max(server.timeout, DISCOVERY_TIMEOUT_MS / 1000) }],
    { workDir, cwd, concurrency: 1, launchFiles: { [server.id]: discoverFile } },
  );
  const t = performance.now();
  try {
    const tools = await listTools(
      (event) =>
        server.hosting.host === 'web-function'
          ? postToWebFunction(lambda, server.functionName, event)
          : lambda.invoke(server.functionName, event),
      'discover',
    );
    return { tools, coldStartMs: performance.now() - t };
  } catch (err) {
    // The message carries the server's own last words (its stderr); the log file has the rest.
    throw new BuildError(
      server.id,
      `tool discovery failed: ${(err as Error).message}. A server that cannot start offline can take a checked-in toolsFile`,
      [],
      path.join(workDir, server.id, 'function.log'),
    );
  } finally {
    await lambda.shutdown();
  }
};

/**
 * A JSON-RPC request to a web function, as its endpoint takes it (an MCP POST; a web function has
 * no direct invoke): answers the response message as the payload, as a direct invoke would.
 */
async function postToWebFunction(
  lambda: LocalLambda,
  name: string,
  message: unknown,
): Promise<{ payload: unknown; functionError?: string }> {
  const body: Buffer[] = [];
  let contentType = '';
  const reader = new StreamedHttpReader(
    (_status, headers) => {
      contentType = headers['content-type'] ?? '';
    },
    (data) => body.push(data),
  );
  const request = {
    method: 'POST',
    url: new URL('http://localhost/mcp'),
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    httpVersion: '1.1',
    sourceIp: '127.0.0.1',
  };
  const outcome = await lambda.invoke(name, functionUrlEvent(request, Buffer.from(JSON.stringify(message))), {
    onChunk: (data, type) => {
      reader.push(data, type);
    },
  });
  if (outcome.functionError !== undefined) return outcome;
  const text = Buffer.concat(body).toString('utf8');
  // An SSE answer: the response is the last event's data.
  const data = /event-stream/i.test(contentType)
    ? (text
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .at(-1)
        ?.slice(5)
        .trim() ?? '')
    : text;
  try {
    return { payload: JSON.parse(data) as unknown };
  } catch {
    return {
      payload: {
        error: {
          message: `the web function answered HTTP ${String(reader.statusCode)}: ${text.slice(0, 200)}`,
        },
      },
    };
  }
}
