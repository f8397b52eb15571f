import { formatProblem, loadConfig, type FleetConfig } from '../config/index.js';
import { CliError } from './exit.js';

/** The config, or a CliError once its problems are printed (file:line:col, as `validate` prints them). */
export async function loadValidConfig(file: string): Promise<FleetConfig> {
  const { config, problems } = await loadConfig(file);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (!config)
    throw new CliError(`${file} is not valid; fix the problems above (mcp-fleet validate ${file})`);
  return config;
}
