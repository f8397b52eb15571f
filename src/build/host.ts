/**
 * What each host (`host:` of a server) asks of its build: which runtime entry its zip carries as
 * `index.mjs`, and for which CPU it is staged. `function` and `managed-instances` run the event
 * handler (Lambda's Node.js runtime calls `index.handler`); `web-function` runs the Web Function
 * entry, an HTTP server, on arm64 only.
 */
import type { ServerConfig } from '../config/model.js';
import type { PackageSpec } from '../config/package-spec.js';
import { HANDLER_BUNDLE, WEB_BUNDLE } from '../contract/bundle.js';
import { BuildError } from './exec.js';

/**
 * The hosts that run each package kind. A pypi or image server is a container image, and only an
 * event function (`function`) runs one: a web function and a managed-instances function take a
 * Node.js zip.
 */
export const HOSTS_OF_KIND: Readonly<Record<PackageSpec['kind'], readonly string[]>> = {
  npm: ['function', 'web-function', 'managed-instances'],
  go: ['function', 'web-function', 'managed-instances'],
  pypi: ['function'],
  image: ['function'],
};

/** The runtime entries a build copies into its zips (defaults: the built ones). */
export interface HostBundles {
  /** The event handler (`function`, `managed-instances`). */
  handlerBundle?: string;
  /** The Web Function entry (`web-function`). */
  webBundle?: string;
}

/** How one server is staged for its host. */
export interface HostBuild {
  /**
   * The server as staged: a web function's CPU is arm64 whatever `aws.architecture` says (Web
   * Functions run on arm64 only), so its native modules and Go binary are built for arm64.
   */
  server: ServerConfig;
  /** The runtime entry its zip carries as `index.mjs`. */
  entry: string;
  /** What the entry is, for messages. */
  entryName: string;
}

/**
 * The entry and the CPU of a server's zip; a BuildError when its package kind cannot run on its
 * host (the config's validation refuses that too: the build must not stage something else).
 */
export function hostBuild(server: ServerConfig, bundles: HostBundles = {}): HostBuild {
  const { host } = server.hosting;
  const kind = server.package?.kind;
  if (kind !== undefined && !HOSTS_OF_KIND[kind].includes(host)) {
    throw new BuildError(
      server.id,
      `host ${host} runs a Node.js zip, and ${kind === 'image' ? 'an image' : `a ${kind}`} server is built into a container image, which only host ${HOSTS_OF_KIND[kind].join(', ')} runs; set host: function (or remove host)`,
    );
  }
  if (host !== 'web-function') {
    return { server, entry: bundles.handlerBundle ?? HANDLER_BUNDLE, entryName: 'the runtime bundle' };
  }
  return {
    server:
      server.aws.architecture === 'arm64'
        ? server
        : { ...server, aws: { ...server.aws, architecture: 'arm64' } },
    entry: bundles.webBundle ?? WEB_BUNDLE,
    entryName: 'the Web Function entry',
  };
}
