// Bundles the Lambda runtime alone (dist/runtime/lambda.bundle.mjs): the handler every function runs.
import { bundleRuntime } from '../dist/build/bundle.js';

const { file, bytes } = await bundleRuntime('dist/runtime/lambda.bundle.mjs');
process.stdout.write(`bundled ${file}: ${(bytes / 1024).toFixed(0)} KiB\n`);
