/** What the build tests look at in a fleet's build: one server's build, its launch spec, a binary's CPU. */
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FleetBuild, ServerBuild } from '../../src/build/build.js';
import type { LaunchSpec } from '../../src/config/model.js';

/** One server's build; fails with every failure of the build when it was not built. */
export const byId = (b: FleetBuild, id: string): ServerBuild => {
  const found = b.built.find((s) => s.server.id === id);
  assert.ok(found, `${id} not built: ${b.failed.map((f) => f.detail).join('\n')}`);
  return found;
};

/** The launch spec in a build's artifact. */
export const launchOf = async (b: ServerBuild): Promise<LaunchSpec> =>
  JSON.parse(await readFile(path.join(b.artifact.dir, 'launch.json'), 'utf8')) as LaunchSpec;

/** The ELF machine of a binary: 0xb7 aarch64, 0x3e x86-64. */
export async function elfMachine(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(20);
    await fh.read(head, 0, 20, 0);
    assert.equal(head.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF binary`);
    return head.readUInt16LE(18);
  } finally {
    await fh.close();
  }
}
