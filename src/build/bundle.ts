import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/**
 * The runtime's entries, compiled: the Lambda handler (dist/runtime/lambda.js, every event
 * function and managed-instances function), the Web Function server (dist/runtime/web.js) and
 * the AgentCore Runtime session server (dist/runtime/session.js).
 */
const ENTRIES = {
  lambda: path.join(HERE, '..', 'runtime', 'lambda.js'),
  web: path.join(HERE, '..', 'runtime', 'web.js'),
  session: path.join(HERE, '..', 'runtime', 'session.js'),
} as const;

export type RuntimeEntry = keyof typeof ENTRIES;

export interface BundleResult {
  /** The handler file (`handler` export), ESM. */
  file: string;
  bytes: number;
  metafile: Metafile;
}

/**
 * Bundles the runtime alone into one ESM file: the handler of every function (`entry: 'lambda'`,
 * the default), a Web Function's server (`entry: 'web'`) or an AgentCore Runtime's session server
 * (`entry: 'session'`). It runs on a plain Node.js with no
 * node_modules. The AWS SDK is left out (the Lambda Node.js runtime provides it; it is loaded
 * only for secrets).
 */
export async function bundleRuntime(
  outfile: string,
  options: { minify?: boolean; entry?: RuntimeEntry } = {},
): Promise<BundleResult> {
  const result = await build({
    entryPoints: [ENTRIES[options.entry ?? 'lambda']],
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
    // Packages' ES module builds first: esbuild drops what is not used from them, not from their
    // CommonJS builds (OpenTelemetry's: 385 KiB of bundle instead of 158).
    mainFields: ['module', 'main'],
    // Some bundled CommonJS code calls require(): give ESM a require.
    banner: {
      js: "import { createRequire as __mcpFleetRequire } from 'node:module'; const require = __mcpFleetRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  return { file: outfile, bytes: output?.bytes ?? 0, metafile: result.metafile };
}
