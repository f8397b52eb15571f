import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { RELIST_AFTER_MS } from '../../src/local/gateway/gateway.js';
import { assertNoneLeft, BIN, FAULT_SERVER, marker } from '../runtime/support.js';
import { rpc } from './support.js';

// A fleet where one server never finishes `initialize`: each listing of its tools waits for it
// (up to the function's timeout) and fails.
let dir: string;
let fleet: RunningFleet;
const mark = marker();

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-gateway-'));
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `stack: GatewayFleet
defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: ${JSON.stringify(path.join(dir, 'memory.jsonl'))} }
  stuck:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    env: { FAULT: hang-init }
    timeout: 2
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(file), {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

const stuckEntry = () => {
  const entry = fleet.gateway.entries().find((e) => e.serverId === 'stuck');
  assert.ok(entry, 'the stuck server has a catalog entry');
  return entry;
};

describe('the gateway with a server that cannot start', () => {
  test('tools/list answers at once from what the gateway has; the failed server is listed again in the background', async () => {
    const first = stuckEntry();
    assert.match(first.error ?? '', /stuck|initialize|start/i, 'the listing failed, and says why');
    // Past the re-list delay, every tools/list still answers in under a second.
    await sleep(RELIST_AFTER_MS + 200);
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const { status, body } = await rpc(`${fleet.url}/mcp`, {
        id: i + 1,
        method: 'tools/list',
        params: {},
      });
      const ms = performance.now() - t0;
      assert.equal(status, 200);
      const tools = (body['result'] as { tools: { name: string }[] }).tools.map((t) => t.name);
      assert.ok(tools.includes('memory___read_graph'), 'the working server is served');
      assert.ok(!tools.some((n) => n.startsWith('stuck___')));
      assert.ok(ms < 1000, `tools/list took ${ms.toFixed(0)} ms`);
    }
    // The re-list started by those calls (only one at a time) ends, and is recorded.
    const deadline = Date.now() + 60_000;
    while (stuckEntry().listedAt === first.listedAt && Date.now() < deadline) await sleep(250);
    const again = stuckEntry();
    assert.ok(again.listedAt > first.listedAt, 'the failed server was listed again');
    assert.ok(again.error !== undefined, 'and its failure is kept');
  });
});
