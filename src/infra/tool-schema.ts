import {
  SchemaDefinitionType,
  type SchemaDefinition,
  type ToolDefinition,
} from 'aws-cdk-lib/aws-bedrockagentcore';
import { INLINE_SCHEMA_MAX_BYTES } from '../build/tool-catalog.js';
import type { LoweredTool } from './types.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/**
 * Total bytes of inline tool schemas one template may carry. CloudFormation takes templates of at
 * most 1 MB (through S3); the rest of a fleet's template (functions, roles, alarms, dashboard)
 * needs room too, so the schemas together get a bit over half of it.
 */
export const INLINE_SCHEMA_TEMPLATE_BUDGET_BYTES = 600 * 1024;

const TYPES: Readonly<Record<string, SchemaDefinitionType>> = {
  string: SchemaDefinitionType.STRING,
  number: SchemaDefinitionType.NUMBER,
  integer: SchemaDefinitionType.INTEGER,
  boolean: SchemaDefinitionType.BOOLEAN,
  array: SchemaDefinitionType.ARRAY,
  object: SchemaDefinitionType.OBJECT,
};

/** Tool schemas the gateway cannot declare; every problem is listed. */
export class ToolSchemaError extends FleetError {
  constructor(readonly problems: readonly string[]) {
    super(FLEET_ERROR.toolSchema, `tool schemas AgentCore cannot declare:\n  ${problems.join('\n  ')}`);
    this.name = 'ToolSchemaError';
  }
}

/**
 * Our lowered JSON Schema objects as the L2's tool definitions: `type`, `description`,
 * `properties`, `required` and `items` are kept, recursively (the subset AgentCore accepts; the
 * build lowered everything else). A schema without a supported `type` is a problem; all problems
 * are collected and thrown once as a {@link ToolSchemaError}.
 */
export function toToolDefinitions(target: string, tools: readonly LoweredTool[]): ToolDefinition[] {
  const problems: string[] = [];
  const out: ToolDefinition[] = [];
  for (const tool of tools) {
    const where = `${target}/${tool.name}`;
    const inputSchema = toSchemaDefinition(tool.inputSchema, `${where}.inputSchema`, problems);
    if (inputSchema !== undefined && inputSchema.type !== SchemaDefinitionType.OBJECT) {
      problems.push(
        `${where}.inputSchema: the top level must be type "object", not "${inputSchema.type.value}"`,
      );
    }
    const outputSchema =
      tool.outputSchema === undefined
        ? undefined
        : toSchemaDefinition(tool.outputSchema, `${where}.outputSchema`, problems);
    if (inputSchema === undefined) continue;
    out.push({
      name: tool.name,
      description: tool.description,
      inputSchema,
      ...(outputSchema === undefined ? {} : { outputSchema }),
    });
  }
  if (problems.length > 0) throw new ToolSchemaError(problems);
  return out;
}

function toSchemaDefinition(
  schema: unknown,
  where: string,
  problems: string[],
): SchemaDefinition | undefined {
  if (!isRecord(schema)) {
    problems.push(`${where}: expected a schema object`);
    return undefined;
  }
  const typeName = schema['type'];
  const type = typeof typeName === 'string' ? TYPES[typeName] : undefined;
  if (type === undefined) {
    problems.push(
      `${where}: type ${typeName === undefined ? 'missing' : JSON.stringify(typeName)} is not one of ${Object.keys(TYPES).join(', ')}`,
    );
    return undefined;
  }
  const def: {
    type: SchemaDefinitionType;
    description?: string;
    properties?: Record<string, SchemaDefinition>;
    required?: string[];
    items?: SchemaDefinition;
  } = { type };
  const description = schema['description'];
  if (typeof description === 'string' && description !== '') def.description = description;
  const properties = schema['properties'];
  if (isRecord(properties)) {
    const props: Record<string, SchemaDefinition> = {};
    for (const [name, sub] of Object.entries(properties)) {
      const converted = toSchemaDefinition(sub, `${where}.properties.${name}`, problems);
      if (converted !== undefined) props[name] = converted;
    }
    def.properties = props;
  }
  const required = schema['required'];
  if (Array.isArray(required) && required.length > 0) {
    def.required = required.filter((r): r is string => typeof r === 'string');
  }
  const items = schema['items'];
  if (items !== undefined) {
    const converted = toSchemaDefinition(items, `${where}.items`, problems);
    if (converted !== undefined) def.items = converted;
  } else if (type === SchemaDefinitionType.ARRAY) {
    problems.push(`${where}: an array needs "items"`);
  }
  return def;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bytes of a target's tool list as an inline payload. */
export function toolSchemaBytes(tools: readonly LoweredTool[]): number {
  return Buffer.byteLength(JSON.stringify(tools));
}

/**
 * Where each target's tool schema goes: inline in the template, or an S3 object. Over the 1 MB
 * per-target inline limit a schema always goes to S3; then, while the inline schemas together
 * exceed `budget`, the largest inline one moves to S3 too.
 */
export function placeToolSchemas(
  targets: readonly { id: string; tools: readonly LoweredTool[] }[],
  budget: number = INLINE_SCHEMA_TEMPLATE_BUDGET_BYTES,
): Map<string, 'inline' | 's3'> {
  const placement = new Map<string, 'inline' | 's3'>();
  const inline: { id: string; bytes: number }[] = [];
  for (const t of targets) {
    const bytes = toolSchemaBytes(t.tools);
    if (bytes > INLINE_SCHEMA_MAX_BYTES) placement.set(t.id, 's3');
    else {
      placement.set(t.id, 'inline');
      inline.push({ id: t.id, bytes });
    }
  }
  inline.sort((a, b) => b.bytes - a.bytes);
  let total = inline.reduce((sum, t) => sum + t.bytes, 0);
  for (const t of inline) {
    if (total <= budget) break;
    placement.set(t.id, 's3');
    total -= t.bytes;
  }
  return placement;
}
