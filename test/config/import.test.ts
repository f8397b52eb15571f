import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { formatProblem, importClientConfig, ImportError, parseConfig } from '../../src/config/index.js';
import { fixture } from '../helpers.js';

async function importFixture(name: string) {
  const file = fixture('import', name);
  return importClientConfig(await readFile(file, 'utf8'), { file: name });
}

describe('Claude Desktop claude_desktop_config.json', () => {
  test('keeps command, args and env; flags the remote server', async () => {
    const r = await importFixture('claude_desktop_config.json');
    assert.equal(r.format, 'mcpServers');
    assert.deepEqual(r.converted, [
      { name: 'filesystem', id: 'filesystem' },
      { name: 'github', id: 'github' },
      { name: 'AWS Documentation', id: 'aws-documentation' },
      { name: 'eks', id: 'eks' },
    ]);
    assert.equal(r.skipped.length, 1);
    assert.equal(r.skipped[0]?.name, 'aws-knowledge');
    assert.match(
      r.skipped[0]?.message ?? '',
      /remote server \(http https:\/\/knowledge-mcp\.global\.api\.aws\)/,
    );
    assert.match(
      r.skipped[0]?.message ?? '',
      /command: mcp-proxy, args: \[--transport, streamablehttp, https:\/\/knowledge-mcp/,
    );
    assert.deepEqual(r.notes, [
      {
        name: 'AWS Documentation',
        message: `renamed to "aws-documentation" (server ids use letters, digits, '-' and '_', at most 53)`,
      },
    ]);

    const { config, problems } = parseConfig(r.yaml);
    assert.ok(config, problems.map(formatProblem).join('\n'));
    const byId = new Map(config.servers.map((s) => [s.id, s]));
    assert.deepEqual(byId.get('filesystem')?.args, [
      '-y',
      '@modelcontextprotocol/server-filesystem',
      '/Users/me/Desktop',
      '/Users/me/Downloads',
    ]);
    assert.equal(byId.get('filesystem')?.command, 'npx');
    assert.deepEqual(byId.get('github')?.env, { GITHUB_PERSONAL_ACCESS_TOKEN: '<YOUR_TOKEN>' });
    assert.equal(byId.get('aws-documentation')?.name, 'AWS Documentation');
    assert.deepEqual(byId.get('aws-documentation')?.env, {
      FASTMCP_LOG_LEVEL: 'ERROR',
      AWS_DOCUMENTATION_PARTITION: 'aws',
    });
    assert.equal(byId.get('eks')?.enabled, false);
    assert.equal(byId.get('aws-documentation')?.enabled, true);
    // npx / uvx keep working but are pointed out.
    assert.equal(
      problems.filter((p) => /downloads the server at every cold start/.test(p.message)).length,
      3,
    );
    assert.match(r.yaml, /Not imported: aws-knowledge: remote server/);
  });
});

describe('Cursor .cursor/mcp.json', () => {
  test('variables in env are not copied but pointed at secrets', async () => {
    const r = await importFixture('cursor-mcp.json');
    assert.deepEqual(r.converted, [{ name: 'memory', id: 'memory' }]);
    assert.deepEqual(
      r.skipped.map((s) => s.name),
      ['linear'],
    );
    assert.match(r.notes[0]?.message ?? '', /env MEMORY_FILE_PATH comes from \$\{env:HOME\}/);
    const { config } = parseConfig(r.yaml);
    assert.deepEqual(config?.servers[0]?.env, {});
    assert.match(r.yaml, /# secrets:\n\s+#\s+MEMORY_FILE_PATH: \{ ssm: \/mcp\/memory\/memory-file-path \}/);
  });
});

describe('VS Code .vscode/mcp.json', () => {
  test('reads JSON with comments and trailing commas; inputs, workspace variables and envFile are flagged', async () => {
    const r = await importFixture('vscode-mcp.json');
    assert.equal(r.format, 'vscode');
    assert.deepEqual(
      r.converted.map((c) => c.id),
      ['github', 'git', 'memory'],
    );
    assert.deepEqual(
      r.skipped.map((s) => s.name),
      ['copilot'],
    );
    const messages = r.notes.map((n) => `${n.name}: ${n.message}`);
    assert.ok(
      messages.some((m) =>
        /^github: env GITHUB_PERSONAL_ACCESS_TOKEN comes from \$\{input:github-token\}/.test(m),
      ),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) =>
        /^git: argument "\$\{workspaceFolder\}" uses \$\{workspaceFolder\}; replace it with a value/.test(m),
      ),
    );
    assert.ok(messages.some((m) => /^memory: envFile "\$\{workspaceFolder\}\/.env" is not read/.test(m)));
    const { config, problems } = parseConfig(r.yaml);
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.deepEqual(config.servers[0]?.env, { GITHUB_TOOLSETS: 'repos,issues' });
    assert.deepEqual(config.servers[1]?.args, ['mcp-server-git', '--repository', '${workspaceFolder}']);
  });
});

describe('inputs that are not client configs', () => {
  test('broken JSON says where', () => {
    assert.throws(
      () => importClientConfig('{\n  "mcpServers": {\n    "a": { "command": "x" \n  }\n', { file: 'c.json' }),
      (err: unknown) => err instanceof ImportError && /^c\.json:5:1 not valid JSON: /.test(err.message),
    );
  });
  test('JSON without servers says what it looked for', () => {
    assert.throws(
      () => importClientConfig('{"theme": "dark"}', { file: 'settings.json' }),
      /settings\.json: no "mcpServers" \(Claude Desktop, Cursor\) or "servers" \(VS Code mcp\.json\) object found/,
    );
  });
  test('entries without a command are skipped with the reason; duplicate ids get a suffix', () => {
    const r = importClientConfig(
      JSON.stringify({
        mcpServers: { 'My Server': { command: 'a' }, 'my server': { command: 'b' }, empty: {} },
      }),
    );
    assert.deepEqual(r.converted, [
      { name: 'My Server', id: 'my-server' },
      { name: 'my server', id: 'my-server-2' },
    ]);
    assert.deepEqual(r.skipped, [{ name: 'empty', message: 'no "command": nothing to start' }]);
  });
});
