import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToolPolicy } from '../../src/config/index.js';

test('no filter serves every tool under its own name', () => {
  const p = new ToolPolicy();
  assert.equal(p.serves('anything'), true);
  assert.equal(p.servedName('anything'), 'anything');
  assert.equal(p.originalName('anything'), 'anything');
});

test('allow globs select, deny globs win', () => {
  const p = new ToolPolicy({ allow: ['git_*'], deny: ['git_commit', 'git_reset*'] });
  assert.equal(p.serves('git_status'), true);
  assert.equal(p.serves('git_commit'), false);
  assert.equal(p.serves('git_reset_hard'), false);
  assert.equal(p.serves('read_file'), false);
  assert.equal(p.originalName('git_commit'), undefined);
  assert.equal(p.whyNotServed('git_commit', { deny: ['git_commit'] }), 'denied by tools.deny "git_commit"');
  assert.equal(p.whyNotServed('read_file', { allow: ['git_*'] }), 'not matched by tools.allow');
});

test('a renamed tool is served only under its new name', () => {
  const p = new ToolPolicy({ rename: { read_text_file: 'read' } });
  assert.equal(p.servedName('read_text_file'), 'read');
  assert.equal(p.originalName('read'), 'read_text_file');
  assert.equal(p.originalName('read_text_file'), undefined);
});

test('filters match original names, before renaming', () => {
  const p = new ToolPolicy({ deny: ['write_*'], rename: { write_file: 'save' } });
  assert.equal(p.originalName('save'), undefined);
});
