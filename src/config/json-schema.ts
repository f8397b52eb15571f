import * as z from 'zod';
import { fleetSchema, serversMapSchema } from './schema.js';

/**
 * The JSON Schema of servers.yaml, generated from the model: either the full form (servers under
 * `servers:` with fleet settings) or the seed document's bare map of servers.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.union([fleetSchema, serversMapSchema]).meta({
    title: 'mcp-fleet servers.yaml',
    description:
      'A fleet of stdio MCP servers: each runs as AWS Lambda function mcp-server-<id> behind an AgentCore Gateway, or locally with `mcp-fleet dev`.',
  });
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', reused: 'ref' });
}
