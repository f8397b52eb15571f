import { TOOL_NAME_DELIMITER } from '../config/limits.js';
import { lowerToolSchema } from './schema-lowering.js';
import { checkToolCatalog } from './tool-catalog.js';

/** A tool as a gateway target declares it: AgentCore's schema subset, a non-empty description. */
export interface LoweredTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

export interface LoweredCatalog {
  tools: LoweredTool[];
  /** One line per lossy change or filled-in value: `<target>___<tool>: what`. */
  warnings: string[];
  /** What AgentCore would refuse (names, quota). */
  errors: string[];
  /** The inline schema is over 1 MB: it must be an S3 object. */
  needsS3: boolean;
  bytes: number;
}

/**
 * Lowers a server's tools (a `tools/list` result) to what its gateway target declares: schemas in
 * AgentCore's subset, descriptions filled in where missing, and the target's catalog checked.
 */
export function lowerTools(target: string, raw: readonly Record<string, unknown>[]): LoweredCatalog {
  const tools: LoweredTool[] = [];
  const warnings: string[] = [];
  for (const tool of raw) {
    const name = String(tool['name']);
    const full = `${target}${TOOL_NAME_DELIMITER}${name}`;
    const input = lowerToolSchema(tool['inputSchema']);
    for (const w of input.warnings) warnings.push(`${full}: ${w}`);
    let description = typeof tool['description'] === 'string' ? tool['description'].trim() : '';
    if (description === '') {
      description = typeof tool['title'] === 'string' && tool['title'] !== '' ? tool['title'] : name;
      warnings.push(`${full}: no description (AgentCore requires one); "${description}" is used`);
    }
    const lowered: LoweredTool = { name, description, inputSchema: input.schema };
    if (tool['outputSchema'] !== undefined && tool['outputSchema'] !== null) {
      const output = lowerToolSchema(tool['outputSchema']);
      for (const w of output.warnings) warnings.push(`${full} (output): ${w}`);
      lowered.outputSchema = output.schema;
    }
    tools.push(lowered);
  }
  const check = checkToolCatalog(target, tools);
  warnings.push(...check.warnings);
  return { tools, warnings, errors: check.errors, needsS3: check.needsS3, bytes: check.bytes };
}

/**
 * An MCP-server target's tools, as the server lists them: AgentCore lists them itself (no schema
 * is declared, nothing is lowered, so nothing is lost and there is nothing to warn about); the
 * checks that still apply are those of names and the per-target quota.
 */
export function targetTools(target: string, raw: readonly Record<string, unknown>[]): LoweredCatalog {
  const tools: LoweredTool[] = raw.map((tool) => {
    const listed: LoweredTool = {
      name: String(tool['name']),
      description: typeof tool['description'] === 'string' ? tool['description'] : '',
      inputSchema: (tool['inputSchema'] ?? { type: 'object' }) as Record<string, unknown>,
    };
    if (tool['outputSchema'] !== undefined && tool['outputSchema'] !== null)
      listed.outputSchema = tool['outputSchema'] as Record<string, unknown>;
    return listed;
  });
  const check = checkToolCatalog(target, tools, 'mcp');
  return { tools, warnings: check.warnings, errors: check.errors, needsS3: false, bytes: check.bytes };
}
