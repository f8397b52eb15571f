/**
 * The names AgentCore Gateway gives what its targets serve: `<target>___<name>` for tools and
 * prompts. One place builds and splits them.
 */
import { TOOL_NAME_DELIMITER } from './limits.js';

export { TOOL_NAME_DELIMITER };

/** `<target>___<name>`. */
export function gatewayToolName(target: string, name: string): string {
  return `${target}${TOOL_NAME_DELIMITER}${name}`;
}

/** A gateway name split at its first delimiter into target and the server's own name; undefined without one. */
export function splitGatewayToolName(full: string): { target: string; name: string } | undefined {
  const at = full.indexOf(TOOL_NAME_DELIMITER);
  if (at === -1) return undefined;
  return { target: full.slice(0, at), name: full.slice(at + TOOL_NAME_DELIMITER.length) };
}
