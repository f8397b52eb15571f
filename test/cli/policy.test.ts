import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, tempDir } from '../helpers.js';

describe('mcp-fleet policy test', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  before(async () => {
    tmp = await tempDir();
    config = path.join(tmp.dir, 'servers.yaml');
    await writeFile(
      path.join(tmp.dir, 'guard.cedar'),
      'forbid(principal, action, resource)\n  when { context.input has path && context.input.path like "*secret*" };\n',
    );
    await writeFile(
      config,
      `policy:
  mode: enforce
  policies:
    readers: |
      permit(principal is AgentCore::OAuthUser, action == AgentCore::Action::"memory___read_graph", resource)
      when { principal.hasTag("role") && principal.getTag("role") == "reader" };
    guard: { file: guard.cedar }
servers:
  memory:
    command: mcp-server-memory
`,
    );
  });
  after(() => tmp.cleanup());

  test('allow: the decision and the permit that made it, with where it is', async () => {
    const r = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"sub": "bob", "role": "reader"}',
      '--expect',
      'allow',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^ALLOW {2}AgentCore::OAuthUser::"bob" → AgentCore::Action::"memory___read_graph"\n/,
    );
    assert.match(
      r.stdout,
      new RegExp(`permit readers {2}${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:7`),
    );
  });

  test('deny by a forbid in a .cedar file, as JSON; --expect fails the command on a mismatch', async () => {
    const r = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"sub": "bob", "role": "reader"}',
      '--arguments',
      '{"path": "top-secret.txt"}',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out['decision'], 'deny');
    assert.equal(out['refusedInMode'], true);
    assert.deepEqual(out['policies'], [
      { id: 'guard', effect: 'forbid', at: `${path.join(tmp.dir, 'guard.cedar')}:1:1` },
    ]);
    assert.equal(out['reason'], 'Policy evaluation denied by guard');
    const mismatch = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--expect',
      'allow',
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^DENY {2}AgentCore::OAuthUser::"dev"/);
    assert.match(mismatch.stderr, /expected allow, got deny/);
  });

  test('usage errors exit 2', async () => {
    const bad = await runCli(['policy', 'test', 'memory___read_graph', '-c', config, '--principal', '{nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--principal: not JSON/);
    const noSub = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"role": "x"}',
    ]);
    assert.equal(noSub.code, 2);
    assert.match(noSub.stderr, /no "sub" claim/);
  });
});
