/**
 * Host `agentcore-runtime`: an npm or Go server is deployed as Node.js direct code (runtime
 * NODE_22, entryPoint `index.mjs`: its staged zip folder, the session entry as `index.mjs`) when
 * it fits AgentCore's direct-code limits; over them, the same folder becomes a container build
 * context whose command is the session entry. PyPI and image servers are containers anyway (their
 * stagers write them, see files.ts).
 */
import { createReadStream } from 'node:fs';
import { appendFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createDeflateRaw } from 'node:zlib';
import { writeContainer } from './files.js';
import type { StageOptions, StageResult } from './types.js';

const MB = 1024 * 1024;

/** The size of a direct-code zip AgentCore Runtime takes, bytes. */
export interface DirectCodeLimits {
  /** The zip (250 MB). */
  zippedBytes: number;
  /** Its files unzipped (750 MB). */
  unzippedBytes: number;
}

/** AgentCore Runtime's limits of direct code (its quotas: 250 MB zipped, 750 MB unzipped). */
export const DIRECT_CODE_LIMITS: Readonly<DirectCodeLimits> = {
  zippedBytes: 250 * MB,
  unzippedBytes: 750 * MB,
};

/** Bytes of a zip entry beyond its data: local header (30), central directory (46), data descriptor (16), zip64 extras (2 × 20), the name twice. */
const entryOverhead = (name: string): number => 30 + 46 + 16 + 40 + 2 * Buffer.byteLength(name);
/** zlib's deflateBound (raw deflate): the most a deflate stream of `n` bytes can be. */
const deflateBound = (n: number): number => n + (n >> 12) + (n >> 14) + (n >> 25) + 7;
/** The end of central directory record, with its zip64 record and locator. */
const ZIP_END = 22 + 56 + 20;

/** Bytes of a file deflated (zlib's default level, as zip tools use). */
function deflatedBytes(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const deflate = createDeflateRaw();
    deflate.on('data', (chunk: Buffer) => (bytes += chunk.length));
    deflate.on('end', () => {
      resolve(bytes);
    });
    deflate.on('error', reject);
    createReadStream(file).on('error', reject).pipe(deflate);
  });
}

/** How big a folder is as direct code: its files, and its zip (deflated only when it could be over `zippedLimit`). */
export async function directCodeSize(
  dir: string,
  zippedLimit: number,
): Promise<{ unzippedBytes: number; zippedBytes: number; files: number }> {
  const files: { file: string; name: string; size: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.push({ file, name: path.relative(dir, file), size: (await stat(file)).size });
  }
  const unzippedBytes = files.reduce((sum, f) => sum + f.size, 0);
  const headers = files.reduce((sum, f) => sum + entryOverhead(f.name), ZIP_END);
  // No deflate stream is larger than its bound: under the limit that way, the zip fits.
  const bound = files.reduce((sum, f) => sum + deflateBound(f.size), headers);
  if (bound <= zippedLimit) return { unzippedBytes, zippedBytes: bound, files: files.length };
  let zippedBytes = headers;
  for (const f of files) zippedBytes += Math.min(await deflatedBytes(f.file), f.size);
  return { unzippedBytes, zippedBytes, files: files.length };
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

/**
 * An agentcore-runtime server's artifact: its zip folder as direct code when it fits the limits;
 * else that folder as a container build context (the session entry as its command), with a note
 * saying why. Containers (PyPI, image) are answered as they are.
 */
export async function runtimeArtifact(opts: StageOptions, staged: StageResult): Promise<StageResult> {
  if (staged.artifact.kind !== 'zip') return staged;
  const limits = opts.directCodeLimits ?? DIRECT_CODE_LIMITS;
  const { dir } = staged.artifact;
  const size = await directCodeSize(dir, limits.zippedBytes);
  const over: string[] = [];
  if (size.unzippedBytes > limits.unzippedBytes)
    over.push(`${mb(size.unzippedBytes)} unzipped, over ${mb(limits.unzippedBytes)}`);
  if (size.zippedBytes > limits.zippedBytes)
    over.push(`${mb(size.zippedBytes)} zipped, over ${mb(limits.zippedBytes)}`);
  if (over.length === 0) return staged;
  const note = `too big for AgentCore Runtime's direct code (${over.join('; ')}): built as an arm64 container image instead (the same files, the session entry as its command)`;
  opts.onLine?.(note);
  await appendFile(opts.logFile, `${note}\n`);
  await writeContainer(dir, {
    server: opts.server,
    what: `${opts.server.package?.spec ?? opts.server.id}, over AgentCore Runtime's direct-code limits (${over.join('; ')})`,
    files: ['.'],
  });
  return { ...staged, artifact: { kind: 'image', dir }, note };
}
