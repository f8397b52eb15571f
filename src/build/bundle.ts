import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The runtime's Lambda entry, compiled (dist/runtime/lambda.js). */
const ENTRY = path.join(HERE, '..', 'runtime', 'lambda.js');

export interface BundleResult {
  /** The handler file (`handler` export), ESM. */
  file: string;
  bytes: number;
  metafile: Metafile;
}

/**
 * Bundles the runtime alone into one ESM file: the handler of every function. The AWS SDK is left
 * out (the Lambda Node.js runtime provides it; it is loaded only for secrets).
 */
export async function bundleRuntime(
  outfile: string,
  options: { minify?: boolean } = {},
): Promise<BundleResult> {
  const result = await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: options.minify ?? true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    external: ['@aws-sdk/*'],
    // Some bundled CommonJS code calls require(): give ESM a require.
    banner: {
      js: "import { createRequire as __mcpFleetRequire } from 'node:module'; const require = __mcpFleetRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  return { file: outfile, bytes: output?.bytes ?? 0, metafile: result.metafile };
}
