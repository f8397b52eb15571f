import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker } from './support.js';

/**
 * The built bundle in a process of its own, as in Lambda: what it writes to stdout is its
 * Powertools log lines and EMF metric records.
 */
test('structured logs and EMF metrics per server and tool, from the bundled handler', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-telemetry-'));
  const mark = marker();
  const launch = path.join(dir, 'launch.json');
  await writeFile(
    launch,
    JSON.stringify({
      id: 'fault',
      name: 'Fault',
      command: process.execPath,
      args: [FAULT_SERVER],
      env: mark.env,
    }),
  );
  const bundle = pathToFileURL(path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs')).href;
  const script = `
    const { handler } = await import(${JSON.stringify(bundle)});
    const ctx = (tool) => ({ awsRequestId: 'req-' + tool, functionName: 'mcp-server-fault', functionVersion: '$LATEST', memoryLimitInMB: '512',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:mcp-server-fault',
      clientContext: { custom: { bedrockAgentCoreToolName: 'fault___' + tool } }, getRemainingTimeInMillis: () => 30000 });
    await handler({ text: 'one' }, ctx('echo'));
    await handler({}, ctx('crash'));
    await handler({ text: 'two' }, ctx('echo'));
    await handler.close();
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      MCP_FLEET_LAUNCH_FILE: launch,
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_DEV: '',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  await rm(dir, { recursive: true, force: true });
  await assertNoneLeft(mark.value);
  assert.equal(run.status, 0, run.stderr);
  // Powertools writes INFO to stdout and WARN / ERROR to stderr; Lambda keeps both.
  const lines = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

  const calls = lines
    .filter((l) => l['message'] === 'tool call')
    .sort((a, b) => Date.parse(String(a['timestamp'])) - Date.parse(String(b['timestamp'])));
  assert.equal(calls.length, 3);
  const [first, crashed, third] = calls as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  assert.equal(first['serverId'], 'fault');
  assert.equal(first['tool'], 'echo');
  assert.equal(first['front'], 'agentcore');
  assert.equal(first['function_request_id'], 'req-echo');
  assert.equal(first['coldStart'], true);
  assert.equal(typeof first['durationMs'], 'number');
  assert.equal(crashed['level'], 'WARN');
  assert.match(String(crashed['error']), /exited with code 5 during tools\/call/);
  assert.equal(third['coldStart'], false);
  assert.ok(lines.some((l) => l['message'] === 'server crashed' && l['level'] === 'ERROR'));
  assert.equal(
    lines.filter((l) => l['message'] === 'server started').length,
    2,
    'started at init, then again after the crash',
  );

  const emf = lines.filter((l) => typeof l['_aws'] === 'object');
  const metric = (name: string) =>
    emf.filter((m) =>
      JSON.stringify((m['_aws'] as Record<string, unknown>)['CloudWatchMetrics']).includes(
        `"Name":"${name}"`,
      ),
    );
  const toolCalls = metric('ToolCalls');
  assert.equal(toolCalls.length, 3);
  for (const m of toolCalls) {
    const aws = m['_aws'] as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    assert.equal(aws.CloudWatchMetrics[0]?.Namespace, 'McpFleet');
    assert.deepEqual(aws.CloudWatchMetrics[0]?.Dimensions[0]?.sort(), ['server', 'service', 'tool'].sort());
    assert.equal(m['server'], 'fault');
  }
  // In no set order: a failed call's record is a WARN line, on stderr (test/unit/call-record.test.ts).
  assert.deepEqual(toolCalls.map((m) => [m['tool'], m['ToolErrors']]).sort(), [
    ['crash', 1],
    ['echo', 0],
    ['echo', 0],
  ]);
  assert.equal(metric('ServerStarts').length, 2);
  assert.equal(metric('ServerCrashes').length, 1);
  assert.ok(metric('ToolLatency').every((m) => typeof m['ToolLatency'] === 'number'));
});

/**
 * Lambda freezes the environment as soon as the handler returns: a log line or metric written
 * after that may never be written. Each call's log line and EMF record are out before it returns.
 */
test("a call's log line and metrics are written before the handler returns", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-telemetry-'));
  const mark = marker();
  const launch = path.join(dir, 'launch.json');
  await writeFile(
    launch,
    JSON.stringify({ id: 'fault', command: process.execPath, args: [FAULT_SERVER], env: mark.env }),
  );
  const bundle = pathToFileURL(path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs')).href;
  const script = `
    const { handler } = await import(${JSON.stringify(bundle)});
    const ctx = (tool, id) => ({ awsRequestId: id, functionName: 'mcp-server-fault', functionVersion: '$LATEST', memoryLimitInMB: '512',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:mcp-server-fault',
      clientContext: { custom: { bedrockAgentCoreToolName: 'fault___' + tool } }, getRemainingTimeInMillis: () => 30000 });
    for (const id of ['first', 'second']) {
      await handler({ text: id }, ctx('echo', id));
      process.stdout.write('RETURNED ' + id + '\\n');
    }
    await handler.close();
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      MCP_FLEET_LAUNCH_FILE: launch,
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_DEV: '',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  await rm(dir, { recursive: true, force: true });
  await assertNoneLeft(mark.value);
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n');
  for (const id of ['first', 'second']) {
    const returned = lines.indexOf(`RETURNED ${id}`);
    assert.ok(returned > 0, run.stdout);
    const before = lines
      .slice(0, returned)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      before.some((l) => l['message'] === 'tool call' && l['function_request_id'] === id),
      `the log line of ${id} is written before it returns`,
    );
    const emf = before.filter((l) => l['_aws'] !== undefined && l['ToolCalls'] !== undefined);
    assert.ok(emf.length >= (id === 'first' ? 1 : 2), `the EMF record of ${id} is written before it returns`);
  }
});
