/**
 * The entry of a Web Function (built into dist/runtime/web.bundle.mjs, a zip's `index.mjs`):
 * reads the server's launch spec (`launch.json` beside this file, or MCP_FLEET_LAUNCH_FILE),
 * listens on AWS_LAMBDA_HTTP_ENDPOINT at once and serves the server there (web-function.ts).
 * SIGTERM (Lambda's shutdown, 1 s before the kill) and SIGINT stop it: no new requests, every
 * server process group killed, then exit.
 */
import { readLaunchFile } from './launch-file.js';
import { entryOptionsFromEnv, exitOnSignals, startWebFunction } from './web-function.js';

/** Lambda sets it; the server must listen there. */
const ENDPOINT_VARIABLE = 'AWS_LAMBDA_HTTP_ENDPOINT';

const endpoint = process.env[ENDPOINT_VARIABLE];
if (endpoint === undefined || endpoint === '') {
  process.stderr.write(
    `mcp-fleet: ${ENDPOINT_VARIABLE} is not set; a web function listens on the host:port Lambda gives there (set it, e.g. 127.0.0.1:8080, to run this entry by hand)\n`,
  );
  process.exit(2);
}

const { launch } = readLaunchFile(import.meta.url);
const web = await startWebFunction(launch, { endpoint, ...entryOptionsFromEnv() });

exitOnSignals(() => web.close());
