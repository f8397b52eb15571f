import { formatProblem, loadConfig } from '../../config/index.js';
import { describeTargetKinds } from '../../config/target-kinds.js';
import { EXIT } from '../exit.js';
import { interceptorProblems } from '../../build/interceptor.js';

export interface ValidateOptions {
  json?: boolean;
}

export async function validateCommand(file: string, options: ValidateOptions): Promise<number> {
  const loaded = await loadConfig(file);
  const problems = [...loaded.problems];
  // The interceptors' handler files are bundled as build bundles them: what would fail there fails here.
  if (loaded.config !== undefined) problems.push(...(await interceptorProblems(loaded.config)));
  const config = problems.some((p) => p.severity === 'error') ? undefined : loaded.config;
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  if (options.json === true) {
    const servers =
      config?.servers.map((s) => ({
        id: s.id,
        functionName: s.functionName,
        target: s.gateway.target,
        targetType: s.gateway.targetType,
      })) ?? [];
    process.stdout.write(
      `${JSON.stringify({ file, valid: config !== undefined, errors, warnings, servers, problems }, null, 2)}\n`,
    );
  } else {
    for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
    const counts = [plural(errors, 'error'), plural(warnings, 'warning')]
      .filter((s) => !s.startsWith('0 '))
      .join(', ');
    if (config !== undefined) {
      const n = config.servers.length;
      process.stdout.write(
        `✓ ${file}: ${plural(n, 'server')}, valid${counts === '' ? '' : ` (${counts})`}\n`,
      );
      // What each kind of gateway target the fleet uses carries.
      for (const line of describeTargetKinds(config.servers)) process.stdout.write(`${line}\n`);
    } else {
      process.stdout.write(`✗ ${file}: ${counts}\n`);
    }
  }
  return config !== undefined ? EXIT.OK : EXIT.FAILURE;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
