/**
 * What each host (`host:` of a server) asks of its build: which runtime entry its zip or container
 * carries as `index.mjs`, and for which CPU it is staged. `function` and `managed-instances` run the
 * event handler (Lambda's Node.js runtime calls `index.handler`); `web-function` runs the Web
 * Function entry, an HTTP server, on arm64 only; `agentcore-runtime` runs the session entry, an
 * HTTP server on port 8000, on arm64 only (as Node.js direct code or in a container).
 */
import type { Host, ServerConfig } from '../config/model.js';
import type { PackageSpec } from '../config/package-spec.js';
import { HANDLER_BUNDLE, SESSION_BUNDLE, WEB_BUNDLE } from '../contract/bundle.js';
import { BuildError } from './exec.js';

/**
 * The hosts that run each package kind. A pypi or image server is a container image, which an
 * event function (`function`) and an AgentCore Runtime run: a web function and a
 * managed-instances function take a Node.js zip.
 */
export const HOSTS_OF_KIND: Readonly<Record<PackageSpec['kind'], readonly Host[]>> = {
  npm: ['function', 'web-function', 'managed-instances', 'agentcore-runtime'],
  go: ['function', 'web-function', 'managed-instances', 'agentcore-runtime'],
  pypi: ['function', 'agentcore-runtime'],
  image: ['function', 'agentcore-runtime'],
};

/** The hosts that run on arm64 only, whatever `aws.architecture` says. */
const ARM64_HOSTS: readonly Host[] = ['web-function', 'agentcore-runtime'];

/** The runtime entries a build copies into its zips and containers (defaults: the built ones). */
export interface HostBundles {
  /** The event handler (`function`, `managed-instances`). */
  handlerBundle?: string;
  /** The Web Function entry (`web-function`). */
  webBundle?: string;
  /** The AgentCore Runtime session entry (`agentcore-runtime`). */
  sessionBundle?: string;
}

/** How one server is staged for its host. */
export interface HostBuild {
  /**
   * The server as staged: on a host that runs arm64 only (Web Functions, AgentCore Runtime) its
   * CPU is arm64 whatever `aws.architecture` says, so its native modules, Go binary and container
   * are built for arm64.
   */
  server: ServerConfig;
  /** The runtime entry its zip or container carries as `index.mjs`. */
  entry: string;
  /** What the entry is, for messages. */
  entryName: string;
}

const list = (hosts: readonly string[]): string =>
  hosts.length === 1
    ? `host ${hosts[0] ?? ''} runs`
    : `hosts ${hosts.join(', ').replace(/, ([^,]*)$/, ' and $1')} run`;

/** The entry a host's zip or container runs. */
function hostEntry(host: Host, bundles: HostBundles): { entry: string; entryName: string } {
  if (host === 'web-function')
    return { entry: bundles.webBundle ?? WEB_BUNDLE, entryName: 'the Web Function entry' };
  if (host === 'agentcore-runtime')
    return {
      entry: bundles.sessionBundle ?? SESSION_BUNDLE,
      entryName: 'the AgentCore Runtime session entry',
    };
  return { entry: bundles.handlerBundle ?? HANDLER_BUNDLE, entryName: 'the runtime bundle' };
}

/**
 * The entry and the CPU of a server's build; a BuildError when its package kind cannot run on its
 * host (the config's validation refuses that too: the build must not stage something else).
 */
export function hostBuild(server: ServerConfig, bundles: HostBundles = {}): HostBuild {
  const { host } = server.hosting;
  const kind = server.package?.kind;
  if (kind !== undefined && !HOSTS_OF_KIND[kind].includes(host)) {
    const runs = HOSTS_OF_KIND[kind].filter((h) => h !== 'function');
    throw new BuildError(
      server.id,
      `host ${host} runs a Node.js zip, and ${kind === 'image' ? 'an image' : `a ${kind}`} server is built into a container image, which only ${list(HOSTS_OF_KIND[kind])}; set host: function${runs.length > 0 ? ` or ${runs.join(' or ')}` : ''} (or remove host)`,
    );
  }
  const arm64 = ARM64_HOSTS.includes(host) && server.aws.architecture !== 'arm64';
  return {
    server: arm64 ? { ...server, aws: { ...server.aws, architecture: 'arm64' } } : server,
    ...hostEntry(host, bundles),
  };
}
