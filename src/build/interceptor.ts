/**
 * An interceptor's function: the user's handler file bundled (esbuild) into one ESM `index.mjs`
 * whose `handler` export is the configured one, in its own function folder under the build
 * folder. `mcp-fleet build` writes it for the stack, and `mcp-fleet dev` writes the same folder
 * before its local Lambda service loads it: deployed and local run the same file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import type { InterceptionPoint, InterceptorConfig } from '../config/interceptors.js';
import type { FleetConfig } from '../config/model.js';

/** The function folder of an interceptor (its root: `index.mjs`, handler `index.handler`). */
export function interceptorDir(buildDir: string, point: InterceptionPoint): string {
  return path.join(buildDir, 'interceptors', point);
}

export interface InterceptorBuild {
  point: InterceptionPoint;
  functionName: string;
  /** The function folder (absolute). */
  dir: string;
  /** `<dir>/index.mjs`. */
  file: string;
  bytes: number;
}

/** Thrown when a handler file cannot be bundled or lacks its export; says which and why. */
export class InterceptorBuildError extends Error {
  constructor(
    readonly interceptor: InterceptorConfig,
    message: string,
  ) {
    super(`interceptor ${interceptor.point} (${interceptor.file}#${interceptor.export}): ${message}`);
    this.name = 'InterceptorBuildError';
  }
}

/** Bundles one interceptor into its function folder. */
export async function bundleInterceptor(
  interceptor: InterceptorConfig,
  buildDir: string,
): Promise<InterceptorBuild> {
  const dir = interceptorDir(buildDir, interceptor.point);
  // Written over in place: a failed bundle leaves the last good one (a running `dev` keeps it).
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'index.mjs');
  const entry = `export { ${interceptor.export} as handler } from ${JSON.stringify(interceptor.path)};\n`;
  try {
    const result = await build({
      stdin: { contents: entry, resolveDir: path.dirname(interceptor.path), loader: 'js' },
      // Messages name files relative to the config's folder, as the config does.
      absWorkingDir: path.dirname(path.resolve(interceptor.source.file)),
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minify: false,
      sourcemap: 'linked',
      metafile: true,
      // The Lambda Node.js runtime provides the AWS SDK v3.
      external: ['@aws-sdk/*'],
      banner: {
        js: "import { createRequire as __mcpFleetRequire } from 'node:module'; const require = __mcpFleetRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
    await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    return {
      point: interceptor.point,
      functionName: interceptor.functionName,
      dir,
      file,
      bytes: output?.bytes ?? 0,
    };
  } catch (err) {
    const errors = (err as { errors?: BundleMessage[] }).errors;
    const text =
      errors !== undefined && errors.length > 0 ? errors.map(placed).join('; ') : (err as Error).message;
    throw new InterceptorBuildError(interceptor, `cannot bundle: ${text}`);
  }
}

/** An esbuild error, as much of it as is read here. */
interface BundleMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

/**
 * An esbuild error with its place (`file:line:column`, relative to the config's folder as esbuild
 * names it; the column from 1), unless it is in the generated entry (`<stdin>`).
 */
function placed(e: BundleMessage): string {
  const at = e.location;
  if (at === undefined || at === null || at.file === '<stdin>' || at.file === '') return e.text;
  return `${at.file}:${at.line}:${at.column + 1}: ${e.text}`;
}

/** Bundles every interceptor of the fleet; none configured: nothing. */
export async function buildInterceptors(fleet: FleetConfig, buildDir: string): Promise<InterceptorBuild[]> {
  const out: InterceptorBuild[] = [];
  for (const i of Object.values(fleet.gateway.interceptors ?? {}))
    out.push(await bundleInterceptor(i, buildDir));
  return out;
}
