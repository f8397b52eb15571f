import { TOOL_NAME_DELIMITER } from '../config/limits.js';

/** Many LLM APIs take tool names of at most 64 characters of letters, digits, '_' and '-'. */
export const FULL_TOOL_NAME_MAX = 64;
export const FULL_TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
/** AgentCore: an inline tool schema of a Lambda target is at most 1 MB (beyond: an S3 object, up to 10 MB). */
export const INLINE_SCHEMA_MAX_BYTES = 1024 * 1024;
/** AgentCore: at most 1000 tools per target. */
export const TOOLS_PER_TARGET_MAX = 1000;

export interface CatalogTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface CatalogCheck {
  /** Problems AgentCore or the models calling it would refuse. */
  errors: string[];
  /** Things that work but deserve a look. */
  warnings: string[];
  /** Whether the schema must go to S3 rather than inline. */
  needsS3: boolean;
  /** Size of the inline payload, bytes. */
  bytes: number;
}

/**
 * Checks one target's tools as the gateway will name and declare them: full names
 * `<target>___<tool>` (length, characters, duplicates), descriptions, the per-target quota and
 * the 1 MB inline schema limit. An MCP-server target (`kind: 'mcp'`) declares no schema (the
 * gateway lists the server's tools itself): only the names and the quota are checked for it.
 */
export function checkToolCatalog(
  target: string,
  tools: readonly CatalogTool[],
  kind: 'lambda' | 'mcp' = 'lambda',
): CatalogCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const tool of tools) {
    const full = `${target}${TOOL_NAME_DELIMITER}${tool.name}`;
    if (full.length > FULL_TOOL_NAME_MAX) {
      errors.push(
        `${full}: ${full.length} characters, over the ${FULL_TOOL_NAME_MAX} many model APIs accept; shorten it with tools.rename or gateway.target`,
      );
    }
    if (!FULL_TOOL_NAME_PATTERN.test(full)) {
      const bad = [...new Set(full.replace(/[A-Za-z0-9_-]/g, ''))].map((c) => JSON.stringify(c)).join(', ');
      errors.push(
        `${full}: has ${bad}, which tool names may not contain (letters, digits, '_' and '-'); rename it with tools.rename`,
      );
    }
    if (seen.has(full)) errors.push(`${full}: listed twice; rename one with tools.rename`);
    seen.add(full);
    if (kind === 'lambda' && tool.description.trim() === '')
      errors.push(`${full}: no description; AgentCore requires one`);
  }
  if (tools.length > TOOLS_PER_TARGET_MAX)
    errors.push(
      `${target}: ${tools.length} tools, over AgentCore's ${TOOLS_PER_TARGET_MAX} per target; deny some with tools.deny`,
    );
  const bytes = Buffer.byteLength(JSON.stringify(tools));
  const needsS3 = kind === 'lambda' && bytes > INLINE_SCHEMA_MAX_BYTES;
  if (needsS3)
    warnings.push(
      `${target}: the tool schema is ${bytes} bytes, over the 1 MB inline limit; it is declared through an S3 object`,
    );
  return { errors, warnings, needsS3, bytes };
}
