import assert from 'node:assert/strict';
import { test } from 'node:test';

test('mcp-fleet/config is importable by package name, from the build', async () => {
  const config = await import('mcp-fleet/config');
  assert.equal(typeof config.loadConfig, 'function');
  assert.equal(typeof config.parseConfig, 'function');
  const { config: fleet } = config.parseConfig('git:\n  command: mcp-server-git\n');
  assert.equal(fleet?.servers[0]?.functionName, 'mcp-server-git');
  const resolved = import.meta.resolve('mcp-fleet/config');
  assert.match(resolved, /\/dist\/config\/index\.js$/);
});

test('internals are not reachable through the package name', async () => {
  const internal: string = 'mcp-fleet/dist/config/load.js';
  await assert.rejects(import(internal), /is not defined by "exports"/);
});
