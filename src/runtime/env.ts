import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Variables a server process inherits from the function's environment. */
const INHERITED = [
  'PATH',
  'LD_LIBRARY_PATH',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  // The execution role's credentials and region.
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ENDPOINT_URL',
] as const;

/**
 * The environment of a server process: what it inherits (PATH, locale, CA bundles, the execution
 * role's credentials and region), writable HOME and cache folders under the temporary directory
 * (Lambda's only writable place), then the configured env, which wins over all of it.
 */
export function serverEnvironment(
  serverId: string,
  configured: Readonly<Record<string, string>>,
  parent: NodeJS.ProcessEnv = process.env,
  tmp: string = os.tmpdir(),
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  // With HOME moved, keep the user's AWS profiles reachable (local runs).
  const realHome = parent['HOME'];
  if (realHome !== undefined && env['AWS_CONFIG_FILE'] === undefined)
    env['AWS_CONFIG_FILE'] = path.join(realHome, '.aws', 'config');
  if (realHome !== undefined && env['AWS_SHARED_CREDENTIALS_FILE'] === undefined) {
    env['AWS_SHARED_CREDENTIALS_FILE'] = path.join(realHome, '.aws', 'credentials');
  }

  const root = path.join(tmp, 'mcp-fleet', serverId);
  const dirs = {
    HOME: path.join(root, 'home'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
    XDG_CONFIG_HOME: path.join(root, 'config'),
    XDG_DATA_HOME: path.join(root, 'data'),
    XDG_STATE_HOME: path.join(root, 'state'),
    TMPDIR: tmp,
    npm_config_cache: path.join(root, 'cache', 'npm'),
    UV_CACHE_DIR: path.join(root, 'cache', 'uv'),
    PIP_CACHE_DIR: path.join(root, 'cache', 'pip'),
    MPLCONFIGDIR: path.join(root, 'cache', 'matplotlib'),
  };
  for (const [key, dir] of Object.entries(dirs)) {
    if (configured[key] !== undefined) continue;
    if (key !== 'TMPDIR') mkdirSync(dir, { recursive: true });
    env[key] = dir;
  }
  env['PYTHONUNBUFFERED'] = '1';
  env['PYTHONDONTWRITEBYTECODE'] = '1';
  return { ...env, ...configured };
}
