import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { assertNoneLeft, FAULT_SERVER, marker } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';
import { memoryServer, rpc } from './support.js';

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
${memoryServer(dir)}
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
    const stuck = fleet.lambda.resolve('mcp-server-stuck');
    // Nothing but the gateway's listings invokes the stuck function: while one runs, it is busy.
    const listingRuns = (): boolean => stuck.environments.busy + stuck.environments.queued > 0;
    let id = 0;
    const toolsList = async (): Promise<string[]> => {
      const { status, body } = await rpc(`${fleet.url}/mcp`, { id: ++id, method: 'tools/list', params: {} });
      assert.equal(status, 200);
      const tools = (body['result'] as { tools: { name: string }[] }).tools.map((t) => t.name);
      assert.ok(tools.includes('memory___read_graph'), 'the working server is served');
      assert.ok(!tools.some((n) => n.startsWith('stuck___')), 'the stuck server has no tools');
      return tools;
    };
    // Past the relist delay, a tools/list starts the relisting of stuck and answers while it runs
    // (the relisting waits for the server, up to the function's timeout). A tools/list that
    // waited for it would answer only once it had ended, and this would never hold.
    await eventually(async () => (await toolsList()) && listingRuns(), {
      what: 'a tools/list answered while the relisting of stuck it started runs',
      intervalMs: 200,
      seen: () => JSON.stringify({ first: first.listedAt, now: Date.now(), entry: stuckEntry() }),
    });
    // More tools/list calls meanwhile answer from what the gateway has, and start no second listing.
    for (let i = 0; i < 5; i++) await toolsList();
    assert.ok(stuck.environments.total <= 1, 'one listing at a time, in one environment');
    // The relisting ends, and is recorded.
    const again = await eventually(
      () => {
        const entry = stuckEntry();
        return entry.listedAt > first.listedAt && entry;
      },
      { what: 'the relisting of stuck to end', seen: () => JSON.stringify(stuckEntry()) },
    );
    assert.ok(again.error !== undefined, 'and its failure is kept');
  });
});
