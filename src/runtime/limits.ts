/** Limits and timings of the runtime, named once. */

/** Lambda's init phase is cut at 10 s; the warm-up waits at most this long during init. */
export const INIT_BUDGET_MS = 8_000;
/** Time kept back from the Lambda deadline to answer a hung call with an error in time. */
export const DEADLINE_MARGIN_MS = 1_000;
/** The shortest budget a call is given, even when the deadline is closer. */
export const MIN_CALL_BUDGET_MS = 100;
/** A stdout line longer than this cannot be a response we can return: the process is replaced. */
export const MAX_STDOUT_LINE_BYTES = 64 * 1024 * 1024;
/** Longer stderr lines are cut when forwarded to the log. */
export const MAX_STDERR_LINE_BYTES = 8 * 1024;
/** How much of the end of stderr is kept to explain a crash. */
export const STDERR_TAIL_BYTES = 4 * 1024;
/** stderr forwarded to the log per second at most; the rest is counted and dropped. */
export const STDERR_LOG_BYTES_PER_SECOND = 256 * 1024;
/** Non-JSON stdout lines are logged at most this many times per process (then counted). */
export const MAX_NOISE_LOGS = 20;
/** Graceful shutdown: after closing stdin, wait this long before SIGTERM, then before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 1_000;
/** After a kill, how long to wait for the rest of the process group to be gone. */
export const GROUP_EXIT_WAIT_MS = 2_000;
/** The protocol version the bridge speaks to the stdio server (the newest 2025-era one). */
export const STDIO_PROTOCOL_VERSION = '2025-11-25';
