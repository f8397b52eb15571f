import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseGoSpec, parseImageSpec, parseNpmSpec, parsePypiSpec } from '../../src/config/index.js';

describe('npm specs', () => {
  test('scoped and plain names with exact versions', () => {
    assert.deepEqual(parseNpmSpec('@modelcontextprotocol/server-memory@2026.8.31'), {
      ok: true,
      value: {
        kind: 'npm',
        name: '@modelcontextprotocol/server-memory',
        version: '2026.8.31',
        spec: '@modelcontextprotocol/server-memory@2026.8.31',
      },
    });
    const plain = parseNpmSpec('supergateway@4.0.0-beta.1');
    assert.ok(plain.ok);
    assert.equal(plain.value.version, '4.0.0-beta.1');
  });
  for (const [spec, message] of [
    ['left-pad@latest', /"latest" is a dist-tag, not a pinned version/],
    ['left-pad@~1.3.0', /"~1.3.0" is a range, not a pinned version/],
    ['left-pad', /has no version; pin an exact one, e.g. left-pad@1.2.3/],
    ['Left Pad@1.0.0', /not an npm package spec/],
    ['@scope@1.0.0', /not an npm package spec|not a valid npm package name/],
  ] as const) {
    test(`refuses ${spec}`, () => {
      const r = parseNpmSpec(spec);
      assert.ok(!r.ok);
      assert.match(r.message, message);
    });
  }
});

describe('PyPI specs', () => {
  test('name==version, with extras', () => {
    assert.deepEqual(parsePypiSpec('awslabs.eks-mcp-server==0.2.1'), {
      ok: true,
      value: {
        kind: 'pypi',
        name: 'awslabs.eks-mcp-server',
        extras: [],
        version: '0.2.1',
        spec: 'awslabs.eks-mcp-server==0.2.1',
      },
    });
    const extras = parsePypiSpec('mcp[cli, ws]==2.3.0rc1');
    assert.ok(extras.ok);
    assert.deepEqual(extras.value.extras, ['cli', 'ws']);
    assert.equal(extras.value.spec, 'mcp[cli,ws]==2.3.0rc1');
  });
  for (const [spec, message] of [
    ['awslabs.eks-mcp-server', /has no version/],
    ['awslabs.eks-mcp-server>=0.2', /">=0.2" is not a pinned version/],
    ['awslabs.eks-mcp-server~=0.2', /"~=0.2" is not a pinned version/],
    ['awslabs.eks-mcp-server@latest', /"@latest" is not a pinned version/],
    ['mcp-server-git==latest', /"latest" is not a PEP 440 version/],
    ['-bad-name==1.0', /not a PyPI requirement/],
  ] as const) {
    test(`refuses ${spec}`, () => {
      const r = parsePypiSpec(spec);
      assert.ok(!r.ok);
      assert.match(r.message, message);
    });
  }
});

describe('Go specs', () => {
  test('module path with a tag or pseudo-version', () => {
    const r = parseGoSpec('github.com/github/github-mcp-server/cmd/github-mcp-server@v1.9.0');
    assert.deepEqual(r, {
      ok: true,
      value: {
        kind: 'go',
        module: 'github.com/github/github-mcp-server/cmd/github-mcp-server',
        version: 'v1.9.0',
        spec: 'github.com/github/github-mcp-server/cmd/github-mcp-server@v1.9.0',
      },
    });
    assert.ok(parseGoSpec('golang.org/x/tools/gopls@v0.0.0-20240101000000-abcdefabcdef').ok);
  });
  for (const [spec, message] of [
    ['github.com/github/github-mcp-server@latest', /"latest" is not a pinned Go module version/],
    ['github.com/github/github-mcp-server@main', /"main" is not a pinned/],
    ['github.com/github/github-mcp-server', /has no version/],
    ['github-mcp-server@v1.0.0', /is not a Go package path/],
  ] as const) {
    test(`refuses ${spec}`, () => {
      const r = parseGoSpec(spec);
      assert.ok(!r.ok);
      assert.match(r.message, message);
    });
  }
});

describe('image specs', () => {
  test('tags and digests', () => {
    const tagged = parseImageSpec('ghcr.io/github/github-mcp-server:v1.9.0');
    assert.ok(tagged.ok);
    assert.deepEqual(
      [tagged.value.repository, tagged.value.tag],
      ['ghcr.io/github/github-mcp-server', 'v1.9.0'],
    );
    const digest = parseImageSpec(`mcp/git@sha256:${'a'.repeat(64)}`);
    assert.ok(digest.ok);
    assert.equal(digest.value.digest, `sha256:${'a'.repeat(64)}`);
    assert.ok(parseImageSpec('localhost:5000/team/server:1.2').ok);
  });
  for (const [spec, message] of [
    ['ghcr.io/github/github-mcp-server', /is not pinned/],
    ['ghcr.io/github/github-mcp-server:latest', /is not pinned/],
    ['GHCR.io/Upper/Case:1', /is not an image reference/],
  ] as const) {
    test(`refuses ${spec}`, () => {
      const r = parseImageSpec(spec);
      assert.ok(!r.ok);
      assert.match(r.message, message);
    });
  }
});
