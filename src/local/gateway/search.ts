/** AgentCore's optional semantic-search tool; here a lexical search over names and descriptions. */
import type { GatewayTool } from './catalog.js';

export const SEARCH_TOOL = 'x_amz_bedrock_agentcore_search';

/** The search tool as the gateway lists it (`gateway.search: true`). */
export function searchTool(): GatewayTool {
  return {
    name: SEARCH_TOOL,
    description:
      'Search the tools of this gateway by what they do; returns the best matches with their input schemas.',
    inputSchema: {
      type: 'object',
      properties: { query: { type: 'string', description: 'What the tool should do' } },
      required: ['query'],
    },
  };
}

/** Lexical ranking: query words found in a tool's name (weighted) and description. */
export function search(tools: readonly GatewayTool[], query: string, limit = 10): GatewayTool[] {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1);
  if (words.length === 0) return [];
  return tools
    .filter((t) => t.name !== SEARCH_TOOL)
    .map((t) => {
      const name = t.name.toLowerCase();
      const description = t.description.toLowerCase();
      const score = words.reduce(
        (s, w) => s + (name.includes(w) ? 3 : 0) + (description.includes(w) ? 1 : 0),
        0,
      );
      return { t, score };
    })
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.t.name.localeCompare(b.t.name))
    .slice(0, limit)
    .map((x) => x.t);
}
