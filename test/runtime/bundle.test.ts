import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundleRuntime, type BundleResult } from '../../src/build/bundle.js';
import { assertNoneLeft, FAULT_SERVER, lambdaContext, marker, text } from './support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';

let dir: string;
let bundle: BundleResult;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bundle-'));
  bundle = await bundleRuntime(path.join(dir, 'index.mjs'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the runtime is bundled alone: no CLI, CDK, local-server, build or config-loading code', () => {
  const inputs = Object.keys(bundle.metafile.inputs);
  assert.ok(
    inputs.some((i) => /(src|dist)\/runtime\/handler\.(ts|js)$/.test(i)),
    inputs.join('\n'),
  );
  const forbidden = inputs.filter((i) =>
    /(src|dist)\/(cli|local|build|infra|deploy|verify)\/|(src|dist)\/config\/(load|schema|import|json-schema|checks|source-map)\.(ts|js)|node_modules\/(commander|yaml|zod|aws-cdk-lib|constructs|esbuild|@aws-cdk|jsonc-parser|@modelcontextprotocol)\//.test(
      i,
    ),
  );
  assert.deepEqual(forbidden, []);
  assert.ok(bundle.bytes < 400 * 1024, `the handler bundle is ${bundle.bytes} bytes`);
});

test('the bundle serves a server from the launch.json beside it', async () => {
  const mark = marker();
  const root = path.join(dir, 'function');
  await rm(root, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(root));
  await copyFile(bundle.file, path.join(root, 'index.mjs'));
  await writeFile(
    path.join(root, 'launch.json'),
    JSON.stringify({ id: 'fault', command: process.execPath, args: [FAULT_SERVER], env: mark.env }),
  );
  const mod = (await import(pathToFileURL(path.join(root, 'index.mjs')).href)) as {
    handler: ((e: unknown, c: unknown) => Promise<unknown>) & { close(): Promise<void>; pid?: number };
  };
  assert.ok(mod.handler.pid !== undefined, 'the server was started during module load (init)');
  // Lambda's Node.js 22 runtime refuses a handler with three declared parameters (a callback handler).
  assert.ok(mod.handler.length <= 2, `the handler declares ${mod.handler.length} parameters`);
  const result = await mod.handler({ text: 'bundled' }, lambdaContext({ toolName: 'fault___echo' }));
  assert.equal(text(result), 'bundled');
  await mod.handler.close();
  await assertNoneLeft(mark.value);
});
