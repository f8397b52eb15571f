/**
 * What the stack checks of each server's host before defining it: what its host needs from the
 * config (a capacity provider, enough memory) and from the build (a zip for the host's entry; for
 * `agentcore-runtime` a zip of its session entry, or an image).
 * Each problem names the server and where it is defined (`file:line:col`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LaunchSpec, ServerConfig } from '../config/model.js';
import { LAUNCH_FILE_NAME } from '../contract/function-env.js';
import { MANAGED_INSTANCES_MIN_MEMORY_MB } from './managed-instances.js';
import type { BuiltServer } from './types.js';

/** `file:line:col <id>.<key>: ` of a server. */
function where(server: ServerConfig, key: string): string {
  const { file, line, column } = { ...server.source, ...server.source.at?.[key] };
  return `${file}:${line}:${column} ${server.id}.${key}:`;
}

/** The host a built function root was built for (its launch spec's; none: `function`). */
function builtHost(dir: string): string | undefined {
  try {
    const spec = JSON.parse(readFileSync(path.join(dir, LAUNCH_FILE_NAME), 'utf8')) as Partial<LaunchSpec>;
    return spec.host ?? 'function';
  } catch {
    return undefined;
  }
}

/** Every problem of the servers' hosts (none for `function`, beyond the build's host). */
export function checkHosts(servers: readonly BuiltServer[]): string[] {
  const problems: string[] = [];
  for (const { server, artifact } of servers) {
    const { host } = server.hosting;
    // AgentCore Runtime runs direct code or a container; the Lambda hosts other than `function` a zip.
    if (host !== 'function' && host !== 'agentcore-runtime' && artifact.kind !== 'zip') {
      problems.push(
        `${where(server, 'host')} host ${host} runs a Node.js zip, and the build of ${server.id} is a container image; use host: function`,
      );
      continue;
    }
    const built = artifact.kind === 'zip' ? builtHost(artifact.dir) : undefined;
    if (built !== undefined && built !== host) {
      problems.push(
        `${where(server, 'host')} the build in ${artifact.dir} is for host ${built}, not ${host}; run mcp-fleet build`,
      );
    }
    if (host === 'managed-instances') problems.push(...checkManagedInstances(server));
  }
  return problems;
}

function checkManagedInstances(server: ServerConfig): string[] {
  const problems: string[] = [];
  if (server.hosting.capacityProvider === undefined) {
    problems.push(
      `${where(server, 'host')} host managed-instances needs capacityProvider: {subnetIds: [subnet-…], securityGroupIds: [sg-…]} to deploy (the EC2 capacity its function runs on); dev and tests run without it`,
    );
  }
  if (server.memory < MANAGED_INSTANCES_MIN_MEMORY_MB) {
    problems.push(
      `${where(server, 'memory')} ${server.memory} MB is below the ${MANAGED_INSTANCES_MIN_MEMORY_MB} MB of the smallest Lambda Managed Instances function; set memory: ${MANAGED_INSTANCES_MIN_MEMORY_MB} or more`,
    );
  }
  return problems;
}
