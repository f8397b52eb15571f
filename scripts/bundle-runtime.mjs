// Bundles the runtime alone: the handler every event function runs (dist/runtime/lambda.bundle.mjs),
// the Web Function server (dist/runtime/web.bundle.mjs) and the AgentCore Runtime session server
// (dist/runtime/session.bundle.mjs).
import { bundleRuntime } from '../dist/build/bundle.js';

for (const [entry, out] of [
  ['lambda', 'dist/runtime/lambda.bundle.mjs'],
  ['web', 'dist/runtime/web.bundle.mjs'],
  ['session', 'dist/runtime/session.bundle.mjs'],
]) {
  const { file, bytes } = await bundleRuntime(out, { entry });
  process.stdout.write(`bundled ${file}: ${(bytes / 1024).toFixed(0)} KiB\n`);
}
