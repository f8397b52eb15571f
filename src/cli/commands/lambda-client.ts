import { readFile } from 'node:fs/promises';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { invokeFunction } from '../../verify/invoke.js';
import { CliError } from '../exit.js';
import { fleetPaths } from '../../config/fleet-paths.js';
import { DEFAULT_PORT } from '../../local/dev/defaults.js';

export interface LambdaTargetOptions {
  endpoint?: string;
  region?: string;
  config: string;
  /** The dev fleet's --token (sent as X-Mcp-Fleet-Token: Authorization carries the SigV4 signature). */
  token?: string;
}

/**
 * A Lambda client for a running dev fleet (the default: the URL the dev fleet of `--config` wrote
 * in its state file, see {@link devStateFile}, else 127.0.0.1:4040), or, with --endpoint /
 * --region, any Lambda API.
 */
export async function lambdaClient(
  opts: LambdaTargetOptions,
): Promise<{ client: LambdaClient; where: string }> {
  if (opts.endpoint === undefined && opts.region !== undefined) {
    return { client: new LambdaClient({ region: opts.region }), where: `AWS Lambda in ${opts.region}` };
  }
  let endpoint = opts.endpoint;
  if (endpoint === undefined) {
    const state = devStateFile(opts.config);
    try {
      endpoint = (JSON.parse(await readFile(state, 'utf8')) as { url: string }).url;
    } catch {
      endpoint = `http://127.0.0.1:${DEFAULT_PORT}`;
    }
  }
  const local = /^https?:\/\/(127\.|localhost|\[::1\])/.test(endpoint);
  const client = new LambdaClient({
    endpoint,
    region: opts.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
    // The local Lambda API does not check signatures; AWS does, with the user's credentials.
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const token = opts.token;
  if (token !== undefined) {
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-mcp-fleet-token'] = token;
        return next(args);
      },
      { step: 'build', name: 'mcpFleetToken' },
    );
  }
  return { client, where: endpoint };
}

/**
 * The state file `invoke`, `tools` and `verify` read for the dev fleet of a config: the one its
 * `mcp-fleet dev` writes (.mcp-fleet/dev.json for servers.yaml, .mcp-fleet/<name>/dev.json for
 * <name>.yaml).
 */
export function devStateFile(configFile: string): string {
  return fleetPaths(configFile).devState;
}

export const functionName = (server: string): string =>
  server.startsWith('mcp-server-') || server.startsWith('arn:') ? server : `mcp-server-${server}`;

export async function invokeJson(
  client: LambdaClient,
  name: string,
  payload: unknown,
  clientContext?: unknown,
): Promise<{ payload: unknown; functionError?: string }> {
  try {
    return await invokeFunction(client, name, payload, clientContext);
  } catch (err) {
    const e = err as Error & { name: string };
    if (e.name === 'ResourceNotFoundException') throw new CliError(`no function ${name}: ${e.message}`);
    const down = unreachable(err);
    if (down) throw down;
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 401)
      throw new CliError("the Lambda API refused the call (401): give the dev fleet's --token");
    throw new CliError(`${e.name}: ${e.message}${status !== undefined ? ` (HTTP ${String(status)})` : ''}`);
  }
}

/** Local connection failures in words a user can act on. */
function unreachable(err: unknown): CliError | undefined {
  const e = err as Error & { code?: string };
  return e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message)
    ? new CliError(
        'nothing answers there; start the fleet with `mcp-fleet dev`, or give --endpoint / --region',
      )
    : undefined;
}

export async function listFleetFunctions(client: LambdaClient): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const res = await client
      .send(new ListFunctionsCommand(marker === undefined ? {} : { Marker: marker }))
      .catch((err: unknown) => {
        throw unreachable(err) ?? err;
      });
    for (const f of res.Functions ?? [])
      if (f.FunctionName?.startsWith('mcp-server-') === true) names.push(f.FunctionName);
    marker = res.NextMarker;
  } while (marker !== undefined);
  return names;
}
