/**
 * The guardian of frozen environments: a small process that outlives nothing. Lambda's freeze
 * stops an environment's processes (SIGSTOP); a stopped process cannot notice that the service
 * that froze it is gone, so if `mcp-fleet dev` dies without thawing them (SIGKILL, a crash), they
 * would stay stopped forever. The service tells the guardian which processes are frozen, over
 * the guardian's stdin; when stdin ends — the service is gone, however it ended — the guardian
 * kills every process still frozen, then exits.
 *
 * Lines on stdin: `+<pid>` (frozen), `-<pid>` (thawed or gone).
 */
import { createInterface } from 'node:readline';

const frozen = new Set<number>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pid = Number(line.slice(1));
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (line.startsWith('+')) frozen.add(pid);
  else if (line.startsWith('-')) frozen.delete(pid);
});
lines.on('close', () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
});
