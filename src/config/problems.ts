import { FLEET_ERROR, FleetError } from '../contract/errors.js';
/** One thing wrong (or worth knowing) about a config file, with where it is. */
export interface Problem {
  severity: 'error' | 'warning';
  /** The file as the user named it. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Where in the model, e.g. `eks-mcp.timeout`; empty for the file as a whole. */
  path: string;
  /** What is wrong; what is allowed. */
  message: string;
}

/** `FILE:LINE:COLUMN path: message` (warnings say so). */
export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  const what = p.path === '' ? p.message : `${p.path}: ${p.message}`;
  return p.severity === 'warning' ? `${where} warning: ${what}` : `${where} ${what}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Thrown by the `OrThrow` loaders; carries every problem found. */
export class ConfigError extends FleetError {
  constructor(readonly problems: readonly Problem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(
      FLEET_ERROR.configInvalid,
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in ${errors[0]?.file ?? 'the config'}:\n` +
        errors.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}
