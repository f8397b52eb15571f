import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkToolCatalog } from '../../src/build/tool-catalog.js';

const tool = (name: string, description = 'does a thing') => ({
  name,
  description,
  inputSchema: { type: 'object', properties: {} },
});

test('a clean catalog has no problems', () => {
  const tools = [tool('git_status'), tool('git-log')];
  assert.deepEqual(checkToolCatalog('git', tools), {
    errors: [],
    warnings: [],
    needsS3: false,
    bytes: Buffer.byteLength(JSON.stringify(tools)),
  });
});

test('names over 64 characters, bad characters, duplicates and empty descriptions are errors', () => {
  const long = 'x'.repeat(60);
  const r = checkToolCatalog('aws-docs', [
    tool(long),
    tool('read.file'),
    tool('dup'),
    tool('dup'),
    tool('quiet', ' '),
  ]);
  assert.deepEqual(r.errors, [
    `aws-docs___${long}: 71 characters, over the 64 many model APIs accept; shorten it with tools.rename or gateway.target`,
    `aws-docs___read.file: has ".", which tool names may not contain (letters, digits, '_' and '-'); rename it with tools.rename`,
    'aws-docs___dup: listed twice; rename one with tools.rename',
    'aws-docs___quiet: no description; AgentCore requires one',
  ]);
});

test('over 1 MB the schema goes to S3; over 1000 tools per target is refused', () => {
  const big = Array.from({ length: 1001 }, (_, i) => ({
    name: `t${i}`,
    description: 'd'.repeat(1100),
    inputSchema: {},
  }));
  const r = checkToolCatalog('big', big);
  assert.equal(r.needsS3, true);
  assert.match(r.warnings[0] ?? '', /^big: the tool schema is \d+ bytes, over the 1 MB inline limit/);
  assert.deepEqual(r.errors, [
    "big: 1001 tools, over AgentCore's 1000 per target; deny some with tools.deny",
  ]);
});
