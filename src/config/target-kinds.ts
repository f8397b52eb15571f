import type { ServerConfig, TargetType } from './model.js';

/** What each gateway target kind carries, as `validate` explains it (and the docs say at length). */
export const TARGET_KIND_CARRIES: Record<TargetType, string> = {
  lambda:
    "tools only: their input and output schemas are declared at build time, lowered to AgentCore's schema subset; no prompts, resources or notifications",
  mcp: "tools, prompts (<target>___<prompt>), resources and resource templates as the server gives them (outputSchema, annotations, titles), progress and logging notifications streamed during a call; the gateway reaches the function's Function URL (AWS_IAM, response streaming), a web function's endpoint (IAM) or an AgentCore Runtime's invocation URL (IAM, a session per client), signed with its own role",
};

/** One line per target kind the fleet uses: which servers, and what that kind carries. */
export function describeTargetKinds(servers: readonly ServerConfig[]): string[] {
  const lines: string[] = [];
  for (const kind of ['lambda', 'mcp'] as const) {
    const ids = servers.filter((s) => s.gateway.targetType === kind).map((s) => s.id);
    if (ids.length === 0) continue;
    lines.push(`  ${kind} targets (${ids.join(', ')}): ${TARGET_KIND_CARRIES[kind]}`);
  }
  return lines;
}
