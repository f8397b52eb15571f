/** What the dev server's clients need to know of it without loading it (`invoke`, `tools`, `verify`). */

/** The port `mcp-fleet dev` listens on unless told otherwise. */
export const DEFAULT_PORT = 4040;
