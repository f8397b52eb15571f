/**
 * The guardian of the local Lambda service's environments: a small process that outlives
 * nothing. Should `mcp-fleet dev` die without stopping its environments (SIGKILL, a crash), their
 * processes would go on: a frozen one (SIGSTOP) cannot notice that the service is gone, and a
 * web function's entry and servers, which talk to the service over HTTP only, would not either.
 * The service tells the guardian, over its stdin, which environments run and which processes are
 * frozen; when stdin ends — the service is gone, however it ended — the guardian kills every
 * process of every environment still running, and every process still frozen, then exits.
 *
 * Lines on stdin: `E<pid>` (an environment's first process started; its process tree and its
 * process group are the environment), `e<pid>` (that environment is over), `+<pid>` (frozen),
 * `-<pid>` (thawed or gone).
 */
import { createInterface } from 'node:readline';
import { processTree, signal, signalGroup } from '../../platform/processes.js';

const environments = new Set<number>();
const frozen = new Set<number>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pid = Number(line.slice(1));
  if (!Number.isInteger(pid) || pid <= 0) return;
  const kind = line[0];
  if (kind === 'E') environments.add(pid);
  else if (kind === 'e') environments.delete(pid);
  else if (kind === '+') frozen.add(pid);
  else if (kind === '-') frozen.delete(pid);
});
lines.on('close', () => {
  // Each environment's tree is read before anything is killed: a process whose parent is killed
  // first is no longer found under it.
  const doomed = new Set(frozen);
  for (const root of environments) for (const pid of processTree(root)) doomed.add(pid);
  for (const root of environments) signalGroup(root, 'SIGKILL');
  for (const pid of doomed) signal(pid, 'SIGKILL');
  process.exit(0);
});
