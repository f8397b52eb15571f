import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundleInterceptor, interceptorDir } from '../../src/build/interceptor.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { fixture, ROOT, runCli, tempDir } from '../helpers.js';

/*
 * Interceptor handlers built as their own function folders: the configured export becomes
 * `handler` of one ESM index.mjs, by `mcp-fleet build` and by bundleInterceptor (which `dev`
 * calls); a handler without its export is a build failure that says which.
 */

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'interceptors');

async function fleetDir(
  interceptors: string,
): Promise<{ dir: string; file: string; cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir();
  await copyFile(path.join(FIXTURES, 'gate.mjs'), path.join(dir, 'gate.mjs'));
  await copyFile(path.join(FIXTURES, 'redact.ts'), path.join(dir, 'redact.ts'));
  await copyFile(fixture('build', 'weather-tools.json'), path.join(dir, 'weather-tools.json'));
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `gateway:
  name: built
  interceptors:
${interceptors}
servers:
  weather:
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    toolsFile: weather-tools.json
`,
  );
  return { dir, file, cleanup };
}

test('mcp-fleet build bundles each interceptor into its function folder, the named export as handler', async () => {
  const { dir, file, cleanup } = await fleetDir(
    '    request: { handler: gate.mjs }\n    response: { handler: "redact.ts#redact" }',
  );
  try {
    const run = await runCli(['build', '--config', file, '--plain']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /request interceptor → mcp-fleet-interceptor-request-built/);
    assert.match(run.stdout, /response interceptor → mcp-fleet-interceptor-response-built/);
    const buildDir = path.join(dir, '.mcp-fleet', 'build');
    const bundle = path.join(interceptorDir(buildDir, 'response'), 'index.mjs');
    const text = await readFile(bundle, 'utf8');
    assert.doesNotMatch(
      text,
      /^import .* from ["']\.\/redact/m,
      'the handler file is bundled in, not imported',
    );
    const mod = (await import(pathToFileURL(bundle).href)) as { handler: (e: unknown) => Promise<unknown> };
    const out = (await mod.handler({
      interceptorInputVersion: '1.0',
      mcp: {
        rawGatewayRequest: { body: '' },
        gatewayRequest: {
          path: '/mcp',
          httpMethod: 'POST',
          body: { jsonrpc: '2.0', id: 3, method: 'tools/call', params: {} },
        },
        gatewayResponse: {
          statusCode: 200,
          body: { jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: '111-22-3333' }] } },
        },
      },
    })) as Record<string, unknown>;
    assert.deepEqual(out, {
      interceptorOutputVersion: '1.0',
      mcp: {
        transformedGatewayResponse: {
          statusCode: 200,
          body: { jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: '[redacted]' }] } },
        },
      },
    });
  } finally {
    await cleanup();
  }
});

test('a handler file without the named export: the build fails saying which interceptor and export', async () => {
  const { file, dir, cleanup } = await fleetDir('    request: { handler: "gate.mjs#noSuchExport" }');
  try {
    const fleet = await loadConfigOrThrow(file);
    const request = fleet.gateway.interceptors?.request;
    assert.ok(request);
    await assert.rejects(
      bundleInterceptor(request, path.join(dir, 'out')),
      /interceptor request \(gate\.mjs#noSuchExport\): cannot bundle: No matching export in "gate\.mjs" for import "noSuchExport"/,
    );
    const run = await runCli(['build', '--config', file, '--plain']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /FAILED interceptors: interceptor request \(gate\.mjs#noSuchExport\): cannot bundle/,
    );
  } finally {
    await cleanup();
  }
});

test("a handler file that does not parse: the build's error names its file, line and column", async () => {
  const { file, dir, cleanup } = await fleetDir('    request: { handler: broken.mjs }');
  try {
    await writeFile(
      path.join(dir, 'broken.mjs'),
      'export async function handler(event) {\n  return { ok: true, };;\n  const = 1;\n}\n',
    );
    const fleet = await loadConfigOrThrow(file);
    const request = fleet.gateway.interceptors?.request;
    assert.ok(request);
    await assert.rejects(
      bundleInterceptor(request, path.join(dir, 'out')),
      /interceptor request \(broken\.mjs#handler\): cannot bundle: broken\.mjs:3:9: Expected identifier but found "="/,
    );
  } finally {
    await cleanup();
  }
});
