import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfigOrThrow, type FleetConfig } from '../../src/config/index.js';
import { gitRepo, pythonTool } from '../helpers.js';
import { BIN, FAULT_SERVER, marker } from '../runtime/support.js';

export interface TestFleetFiles {
  dir: string;
  repo: string;
  configFile: string;
  config: FleetConfig;
  mark: ReturnType<typeof marker>;
  /** The environment the local functions get (marked, so the process table can be checked). */
  env: NodeJS.ProcessEnv;
  cleanup: () => Promise<void>;
}

/** servers.yaml lines for server-memory as the server `memory`, its graph kept in `dir`. */
export function memoryServer(dir: string): string {
  return `  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: ${JSON.stringify(path.join(dir, 'memory.jsonl'))} }`;
}

/** A fleet of real servers (and the fault fixture) in a temporary folder, as a user would write it. */
export async function testFleet(extra = ''): Promise<TestFleetFiles> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-dev-'));
  const mark = marker();
  const repo = path.join(dir, 'repo');
  await gitRepo(repo);
  for (let i = 0; i < 10; i++) await writeFile(path.join(dir, `file-${i}.txt`), `content of file ${i}\n`);
  const configFile = path.join(dir, 'servers.yaml');
  await writeFile(
    configFile,
    `stack: TestFleet
gateway: { name: test-gateway }
defaults:
  timeout: 30
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
${memoryServer(dir)}
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
  filesystem:
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
    tools: { deny: ["write_file", "edit_file", "move_file"] }
  git:
    command: ${JSON.stringify(pythonTool('mcp-server-git'))}
    args: ["--repository", ${JSON.stringify(repo)}]
  fault:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    timeout: 2
    aws: { reservedConcurrency: 1 }
  broken:
    description: a server that cannot start
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    env: { FAULT: crash-on-start }
${extra}`,
  );
  const config = await loadConfigOrThrow(configFile);
  return {
    dir,
    repo,
    configFile,
    config,
    mark,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function rpc(
  url: string,
  message: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/**
 * A gate a fixture waits at (streaming.mjs's pieces, the fault server's progress tool): after
 * writing piece `name` it goes on only once the test, having got that piece, calls `pass(name)`.
 * A fixture that ends has had each piece reach the test while it still ran; one whose pieces are
 * held back never ends (its call fails at the function's timeout).
 */
export function gate(parent: string): { dir: string; pass: (name: string | number) => void } {
  const dir = mkdtempSync(path.join(parent, 'gate-'));
  return {
    dir,
    pass: (name) => {
      writeFileSync(path.join(dir, String(name)), '');
    },
  };
}
