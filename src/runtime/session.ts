/**
 * The entry of an AgentCore Runtime host (built into dist/runtime/session.bundle.mjs: a direct-code
 * zip's `index.mjs`, its entryPoint, or its container's command): reads the server's launch spec
 * (`launch.json` beside this file, or MCP_FLEET_LAUNCH_FILE) and serves it statefully, one server
 * per session, on AgentCore's `0.0.0.0:8000` `/mcp` (session-server.ts). MCP_FLEET_SESSION_HOST
 * and MCP_FLEET_SESSION_PORT move it (local runs). SIGTERM and SIGINT stop it: no new requests,
 * every session's server process groups killed, then exit.
 */
import { SESSION_HOST_ENV, SESSION_PORT_ENV } from '../contract/function-env.js';
import { readLaunchFile } from './launch-file.js';
import { SESSION_DEFAULT_HOST, SESSION_DEFAULT_PORT, startSessionServer } from './session-server.js';
import { entryOptionsFromEnv, exitOnSignals } from './web-function.js';

const portText = process.env[SESSION_PORT_ENV] ?? '';
const port = portText === '' ? SESSION_DEFAULT_PORT : Number(portText);
if (!/^\d{1,5}$/.test(portText === '' ? '0' : portText) || port > 65_535) {
  process.stderr.write(
    `mcp-fleet: ${SESSION_PORT_ENV} must be a port number (0-65535; default ${SESSION_DEFAULT_PORT}), not "${portText.slice(0, 40)}"\n`,
  );
  process.exit(2);
}
const hostText = process.env[SESSION_HOST_ENV] ?? '';

const { launch } = readLaunchFile(import.meta.url);
const server = await startSessionServer(launch, {
  host: hostText === '' ? SESSION_DEFAULT_HOST : hostText,
  port,
  ...entryOptionsFromEnv(),
});

exitOnSignals(() => server.close());
