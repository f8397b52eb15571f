import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (this file is src/contract or dist/contract). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The runtime's handler bundle, as built (`npm run build`): every zip function carries it as
 * `index.mjs`, and every local Lambda environment loads it.
 */
export const HANDLER_BUNDLE = path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs');

/**
 * The runtime's Web Function entry, as built: an HTTP server on `AWS_LAMBDA_HTTP_ENDPOINT` that
 * serves the server in `launch.json` beside it. A `web-function` zip carries it as `index.mjs`, and
 * every local web-function environment runs it.
 */
export const WEB_BUNDLE = path.join(ROOT, 'dist', 'runtime', 'web.bundle.mjs');

/**
 * The runtime's AgentCore Runtime entry, as built: a stateful MCP server on `0.0.0.0:8000` `/mcp`
 * in front of the server in `launch.json` beside it. An `agentcore-runtime` direct-code zip
 * carries it as `index.mjs` (the runtime's entryPoint), and its container runs it.
 */
export const SESSION_BUNDLE = path.join(ROOT, 'dist', 'runtime', 'session.bundle.mjs');
