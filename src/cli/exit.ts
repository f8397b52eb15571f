/** Exit codes of every mcp-fleet command. */
export const EXIT = {
  /** Done; the thing checked is fine. */
  OK: 0,
  /** The command ran and found problems (invalid config, failed check), or could not do its work. */
  FAILURE: 1,
  /** The command line itself is wrong: unknown command or option, missing argument. */
  USAGE: 2,
} as const;

/** An expected failure: its message is shown as is, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
