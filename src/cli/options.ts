/**
 * The options several commands share, declared once: each a function that makes a fresh
 * commander `Option` (a command owns its options), with the description the command wants when
 * its meaning differs a little (e.g. `--token` of `dev` and of `invoke`).
 */
import { Option } from 'commander';

/** The config file every command reads by default. */
export const DEFAULT_CONFIG = 'servers.yaml';

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const configOption = (description = 'the config file'): Option =>
  new Option('-c, --config <file>', description).default(DEFAULT_CONFIG);

export const jsonOption = (description = 'print the result as JSON'): Option =>
  new Option('--json', description);

export const regionOption = (description: string): Option => new Option('--region <region>', description);

export const endpointOption = (
  description = 'a Lambda API endpoint (default: the running dev fleet)',
): Option => new Option('--endpoint <url>', description);

export const tokenOption = (description = "the dev fleet's --token, when it was started with one"): Option =>
  new Option('--token <token>', description);

export const onlyOption = (): Option => new Option('--only <ids...>', 'only these servers');

export const forceOption = (description: string): Option => new Option('-f, --force', description);

export const buildDirOption = (
  description = "build folder (default: the config's, .mcp-fleet/build beside servers.yaml; .mcp-fleet/<name>/build for <name>.yaml)",
): Option => new Option('--build-dir <dir>', description);

/** `--no-build`: commander sets `build: false` (true by default). */
export const noBuildOption = (description: string): Option => new Option('--no-build', description);

export const plainOption = (description: string): Option => new Option('--plain', description);

export const concurrencyOption = (description: string): Option =>
  new Option('--concurrency <n>', description);

export const yesOption = (description: string): Option => new Option('-y, --yes', description);
