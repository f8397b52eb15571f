/**
 * What `mcp-fleet dev` measured of each server, as the local Lambda service writes it and
 * `mcp-fleet plan` reads it: one JSON file per server, `<folder>/measurements/<id>.json`, where
 * `<folder>` holds the fleet's dev work folder (`.mcp-fleet/` for `servers.yaml`,
 * `.mcp-fleet/<name>/` for `<name>.yaml`). Kept across runs of `dev`: each run adds to it. No
 * imports: both sides read the names from here.
 */

/** The folder beside the dev work folder. */
export const MEASUREMENTS_FOLDER = 'measurements';
export const MEASUREMENTS_FORMAT = 1;

/** Per tool: its calls and their durations (Lambda's REPORT `Duration`), ms. */
export interface ToolMeasurement {
  calls: number;
  errors: number;
  totalMs: number;
  maxMs: number;
}

export interface ServerMeasurements {
  format: typeof MEASUREMENTS_FORMAT;
  server: string;
  /** The host the server ran on when last measured (`function`, `web-function`, …). */
  host: string;
  /** The function's memory setting when last measured, MB. */
  memorySizeMb: number;
  firstAt: string;
  updatedAt: string;
  /** Invocations (tools/list and the like included) and how many failed. */
  calls: number;
  errors: number;
  /** REPORT `Duration`, every invocation, ms. */
  durationTotalMs: number;
  durationMaxMs: number;
  /** REPORT `Init Duration` of the cold starts, ms. */
  init: { count: number; totalMs: number; maxMs: number };
  /** REPORT `Max Memory Used`: the highest of any environment, MB. */
  maxMemoryUsedMb: number;
  /** Tool calls by tool name (`<target>___<tool>` as the gateway named them, else the tool). */
  tools: Record<string, ToolMeasurement>;
  /**
   * Calls that ran while another call of the same server ran, on a host whose environment takes
   * several calls at once (`web-function`, `managed-instances`: they shared a server process),
   * how many of those failed, and the most seen at once. Zero on the other hosts.
   */
  overlap: { calls: number; errors: number; peak: number };
  /**
   * Files of an environment's own /tmp that a call read at least a second after an earlier call
   * wrote them, seen when environments ended: state between calls. Absent when none was seen.
   */
  state?: { environments: number; files: number; examples: string[]; lastAt: string };
  /**
   * Requests the server sent its client in the middle of a call (`elicitation/create`,
   * `sampling/createMessage`, `roots/list`), relayed or refused: only a host that keeps the
   * session can carry the client's answer back. Absent when none was seen.
   */
  asks?: { count: number; methods: string[]; lastAt: string };
}
