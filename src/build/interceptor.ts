/**
 * An interceptor's function: the user's handler file bundled (esbuild) into one ESM `index.mjs`
 * whose `handler` export is the configured one, in its own function folder under the build
 * folder. `mcp-fleet build` writes it for the stack, and `mcp-fleet dev` writes the same folder
 * before its local Lambda service loads it: deployed and local run the same file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import type { InterceptionPoint, InterceptorConfig } from '../config/interceptors.js';
import type { FleetConfig } from '../config/model.js';
import type { Problem } from '../config/problems.js';

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
  try {
    const result = await build({
      ...bundleOptions(interceptor),
      outfile: file,
      sourcemap: 'linked',
      metafile: true,
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
    throw new InterceptorBuildError(interceptor, `cannot bundle: ${bundleErrors(err)}`);
  }
}

/** How an interceptor is bundled: an entry that re-exports its handler as `handler`, for Node.js 20 ESM. */
function bundleOptions(interceptor: InterceptorConfig): BuildOptions {
  const entry = `export { ${interceptor.export} as handler } from ${JSON.stringify(interceptor.path)};\n`;
  return {
    stdin: { contents: entry, resolveDir: path.dirname(interceptor.path), loader: 'js' },
    // Messages name files relative to the config's folder, as the config does.
    absWorkingDir: path.dirname(path.resolve(interceptor.source.file)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: false,
    // The Lambda Node.js runtime provides the AWS SDK v3.
    external: ['@aws-sdk/*'],
    banner: {
      js: "import { createRequire as __mcpFleetRequire } from 'node:module'; const require = __mcpFleetRequire(import.meta.url);",
    },
    logLevel: 'silent',
  };
}

/**
 * What `mcp-fleet validate` finds in the interceptors' handler files: each is bundled as `build`
 * bundles it (nothing written), and one that cannot be (a syntax error, a module not found, no
 * such export) is an error at its place in the config, with the place in the handler file.
 */
export async function interceptorProblems(fleet: FleetConfig): Promise<Problem[]> {
  const out: Problem[] = [];
  for (const [point, i] of Object.entries(fleet.gateway.interceptors ?? {})) {
    try {
      await build({ ...bundleOptions(i), write: false });
    } catch (err) {
      out.push({
        severity: 'error',
        file: i.source.file,
        line: i.source.line,
        column: i.source.column,
        path: `gateway.interceptors.${point}`,
        message: `${i.file}#${i.export} cannot be bundled: ${bundleErrors(err)}`,
      });
    }
  }
  return out;
}

/** What a failed bundle says: esbuild's errors, each at its place; else the error's message. */
function bundleErrors(err: unknown): string {
  const errors = (err as { errors?: BundleMessage[] }).errors;
  return errors !== undefined && errors.length > 0 ? errors.map(placed).join('; ') : (err as Error).message;
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
