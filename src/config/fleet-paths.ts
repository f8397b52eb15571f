/**
 * The files and folders of one fleet, all derived from its config file, so that several fleets
 * kept in one folder (`servers.yaml`, `servers.prod.yaml`, …) never share a lock file, a build
 * folder or a running dev fleet's files:
 *
 * | config                          | lock file                 | build folder                 | dev work folder            | dev state file                   |
 * | ------------------------------- | ------------------------- | ---------------------------- | -------------------------- | -------------------------------- |
 * | `servers.yaml` / `servers.yml`  | `mcp-fleet.lock.json`     | `.mcp-fleet/build`           | `.mcp-fleet/dev`           | `.mcp-fleet/dev.json`            |
 * | `<stem>.yaml` / `<stem>.yml`    | `<stem>.lock.json`        | `.mcp-fleet/<stem>/build`    | `.mcp-fleet/<stem>/dev`    | `.mcp-fleet/<stem>/dev.json`     |
 *
 * all beside the config. A stem that would land on the default fleet's files or on mcp-fleet's
 * own folder — `mcp-fleet` (its lock would be `mcp-fleet.lock.json`), `build`, `dev`, `dev.json`,
 * `dev.claim`, `tools` (names in `.mcp-fleet/`), compared without case for case-insensitive file systems —
 * or a stem that names no folder of its own (`.yaml`, `..yaml`, `...yaml`: empty, `.`, `..`) is
 * replaced by the config's whole file name: `mcp-fleet.yaml` gets
 * `mcp-fleet.yaml.lock.json` and `.mcp-fleet/mcp-fleet.yaml/`. A config whose name does not end
 * in `.yaml`/`.yml` is named by its whole file name the same way; one that still collides (a
 * config file called `build` or `mcp-fleet`) is refused. Config names that differ only by
 * `.yaml`/`.yml` endings (`prod.yaml` and `prod.yml`) name the same files: keep one of them.
 */
import path from 'node:path';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/** The config names of the default fleet, which keeps the names mcp-fleet always used. */
export const DEFAULT_CONFIG_NAMES: readonly string[] = ['servers.yaml', 'servers.yml'];
/** The default fleet's lock file (beside its config). */
export const DEFAULT_LOCK_FILE = 'mcp-fleet.lock.json';
/** mcp-fleet's folder beside the config: builds, dev files, tools. */
export const WORK_FOLDER = '.mcp-fleet';

/** Names a fleet's key may not take: its lock or its folder would be the default fleet's, or mcp-fleet's own. */
const RESERVED_KEYS: readonly string[] = ['mcp-fleet', 'build', 'dev', 'dev.json', 'dev.claim', 'tools'];

export interface FleetPaths {
  /** The config file, absolute. */
  config: string;
  /**
   * What names this fleet's files (`<key>.lock.json`, `.mcp-fleet/<key>/`); undefined for the
   * default config, whose files keep the default names.
   */
  key: string | undefined;
  /** The lock file: what each server's build resolved; committed. */
  lockFile: string;
  /** The build folder (`<build>/<id>/` per server); `--out` / `--build-dir` override it. */
  buildDir: string;
  /** `mcp-fleet dev`'s work folder: per function its launch file and function.log. */
  devDir: string;
  /** Where a running `mcp-fleet dev` writes its URL, read by `invoke`, `tools` and `verify`. */
  devState: string;
  /** Held by the one `mcp-fleet dev` running this config (its process id). */
  devClaim: string;
  /** The default fleet's lock in the same folder (the same file as `lockFile` for the default config). */
  defaultLockFile: string;
}

/**
 * The key that names a config's files: undefined for the default config names, else the stem of
 * a `.yaml`/`.yml` file, or the whole file name when the stem is empty or reserved (or the file
 * has another ending). Throws when even the whole file name is reserved.
 */
export function fleetKey(configFile: string): string | undefined {
  const name = path.basename(configFile);
  if (DEFAULT_CONFIG_NAMES.includes(name)) return undefined;
  const stem = /^(.*)\.ya?ml$/i.exec(name)?.[1];
  // '' , '.' and '..' would name no folder of its own (.mcp-fleet/./build is the default fleet's).
  const reserved = (key: string): boolean =>
    ['', '.', '..'].includes(key) || RESERVED_KEYS.includes(key.toLowerCase());
  if (stem !== undefined && !reserved(stem)) return stem;
  if (reserved(name)) {
    throw new FleetError(
      FLEET_ERROR.usage,
      `${configFile}: a config named "${name}" would share the files of the default fleet (mcp-fleet.lock.json, .mcp-fleet/); rename it, e.g. to ${name}.yaml`,
    );
  }
  return name;
}

/** Every per-config path of the fleet whose config is `configFile` (all absolute). */
export function fleetPaths(configFile: string): FleetPaths {
  const config = path.resolve(configFile);
  const dir = path.dirname(config);
  const key = fleetKey(config);
  const work = path.join(dir, WORK_FOLDER);
  const own = key === undefined ? work : path.join(work, key);
  return {
    config,
    key,
    lockFile: path.join(dir, key === undefined ? DEFAULT_LOCK_FILE : `${key}.lock.json`),
    buildDir: path.join(own, 'build'),
    devDir: path.join(own, 'dev'),
    devState: path.join(own, 'dev.json'),
    devClaim: path.join(own, 'dev.claim'),
    defaultLockFile: path.join(dir, DEFAULT_LOCK_FILE),
  };
}
