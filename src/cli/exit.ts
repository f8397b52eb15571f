import { FLEET_ERROR, FleetError, type FleetErrorCode } from '../contract/errors.js';

/** Exit codes of every mcp-fleet command. */
export const EXIT = {
  /** Done; the thing checked is fine. */
  OK: 0,
  /** The command ran and found problems (invalid config, failed check), or could not do its work. */
  FAILURE: 1,
  /** The command line itself is wrong: unknown command or option, missing argument. */
  USAGE: 2,
} as const;

/** The one place failures become exit codes: a wrong command line is USAGE, anything else FAILURE. */
export function exitCodeFor(code: FleetErrorCode): number {
  return code === FLEET_ERROR.usage ? EXIT.USAGE : EXIT.FAILURE;
}

/** An expected failure of a command: its message is shown as is, without a stack. */
export class CliError extends FleetError {
  constructor(message: string, exitCode: number = EXIT.FAILURE) {
    super(exitCode === EXIT.USAGE ? FLEET_ERROR.usage : FLEET_ERROR.failed, message);
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }
}
