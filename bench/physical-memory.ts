/**
 * The physical memory of a set of processes, each page counted once: the union of the page frames
 * their resident pages map to, read from /proc/<pid>/pagemap.
 *
 * Summed RSS counts a page once per process that maps it. Processes that run the same binary share
 * its code pages (a function environment's worker and a Node.js server both map about 38 MB of
 * `node`), so summed RSS overstates what a fleet of Node.js processes takes from the machine;
 * the union does not. Page frame numbers are shown to root only (CAP_SYS_ADMIN); for anyone else
 * the kernel reports them as 0, and this answers undefined.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readPseudoFile } from '../src/platform/processes.js';

const PAGE_BYTES = 4096;
const PRESENT = 1n << 63n;
const PFN_MASK = (1n << 55n) - 1n;
/** Pagemap entries a read. */
const CHUNK = 8192;

/** Bytes of physical memory the processes' resident pages take, each page once; undefined when unreadable. */
export function physicalBytes(pids: readonly number[]): number | undefined {
  const frames = pageFrames(pids);
  return frames === undefined ? undefined : frames.size * PAGE_BYTES;
}

/**
 * Bytes of physical memory the processes `added` take beyond what the processes `base` map, each
 * page once: the frames of the first that are not frames of the second; undefined when unreadable.
 */
export function addedBytes(base: readonly number[], added: readonly number[]): number | undefined {
  const own = pageFrames(base);
  const theirs = own === undefined ? undefined : pageFrames(added);
  if (own === undefined || theirs === undefined) return undefined;
  let count = 0;
  for (const frame of theirs) if (!own.has(frame)) count++;
  return count * PAGE_BYTES;
}

/** The page frames the processes' resident pages map to; undefined when the kernel hides them. */
function pageFrames(pids: readonly number[]): Set<bigint> | undefined {
  const frames = new Set<bigint>();
  const buffer = Buffer.alloc(CHUNK * 8);
  for (const pid of pids) {
    const maps = readPseudoFile(`/proc/${pid}/maps`);
    if (maps === undefined) continue; // gone
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue;
    }
    try {
      for (const line of maps.split('\n')) {
        const dash = line.indexOf('-');
        const space = line.indexOf(' ');
        if (dash < 0 || space < 0) continue;
        const start = parseInt(line.slice(0, dash), 16);
        const end = parseInt(line.slice(dash + 1, space), 16);
        // [vsyscall] and the like: not in the page table.
        if (!Number.isSafeInteger(end) || end <= start) continue;
        if (!readRange(fd, buffer, start / PAGE_BYTES, (end - start) / PAGE_BYTES, frames)) return undefined;
      }
    } finally {
      closeSync(fd);
    }
  }
  return frames;
}

/** Adds the frames of the present pages in one range; false when the kernel hid their numbers. */
function readRange(
  fd: number,
  buffer: Buffer,
  firstPage: number,
  pages: number,
  frames: Set<bigint>,
): boolean {
  for (let done = 0; done < pages; done += CHUNK) {
    const count = Math.min(CHUNK, pages - done);
    let got: number;
    try {
      got = readSync(fd, buffer, 0, count * 8, (firstPage + done) * 8);
    } catch {
      return true; // a range the kernel will not show
    }
    for (let i = 0; i + 8 <= got; i += 8) {
      const entry = buffer.readBigUInt64LE(i);
      if ((entry & PRESENT) === 0n) continue;
      const frame = entry & PFN_MASK;
      if (frame === 0n) return false;
      frames.add(frame);
    }
  }
  return true;
}
