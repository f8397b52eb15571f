import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isScalar, Scalar } from 'yaml';
import { parseCedar, textLocator, type CedarSource, type PolicyDefinition, type Position } from './cedar.js';
import { TOOL_NAME_DELIMITER } from './limits.js';
import type { FleetConfig } from './model.js';
import type { RawPolicy } from './policy-schema.js';
import { FLEET_TAG, SERVER_TAG, TAGS_PER_RESOURCE_MAX } from './policy-schema.js';
import type { Problem } from './problems.js';
import type { SourceMap } from './source-map.js';

/** The fleet's AgentCore Policy: the mode and every Cedar statement, parsed by the engine. */
export interface FleetPolicy {
  mode: 'log-only' | 'enforce';
  policies: PolicyDefinition[];
}

/**
 * Reads `policy:` — inline Cedar and `.cedar` files beside the config — with the Cedar engine:
 * syntax errors at file:line:column (inline text is mapped back into servers.yaml), names
 * AgentCore refuses, and warnings for tools of targets the fleet does not have.
 */
export function resolvePolicy(
  raw: RawPolicy | undefined,
  config: FleetConfig,
  source: SourceMap,
): { policy?: FleetPolicy; problems: Problem[] } {
  if (raw === undefined) return { problems: [] };
  const problems: Problem[] = [];
  const policies: PolicyDefinition[] = [];
  for (const [name, entry] of Object.entries(raw.policies)) {
    const src = cedarSource(name, entry, config.file, source);
    if ('problem' in src) {
      problems.push(src.problem);
      continue;
    }
    const parsed = parseCedar(src);
    problems.push(...parsed.problems.map((p) => problemAt(p, `policy.policies.${name}`, p.message)));
    policies.push(...parsed.policies);
  }
  problems.push(...checkPolicyNames(policies), ...checkPolicyTargets(policies, config));
  return { policy: { mode: raw.mode ?? 'log-only', policies }, problems };
}

/** A problem at a place in Cedar text (inline in servers.yaml or in a `.cedar` file). */
function problemAt(
  p: Position,
  display: string,
  message: string,
  severity: Problem['severity'] = 'error',
): Problem {
  return { severity, file: p.file, line: p.line, column: p.column, path: display, message };
}

/** The Cedar text of one entry of `policy.policies`: inline, or a file beside the config. */
function cedarSource(
  name: string,
  entry: RawPolicy['policies'][string],
  configFile: string,
  source: SourceMap,
): CedarSource | { problem: Problem } {
  const base = ['policy', 'policies', name];
  if (typeof entry === 'string') {
    return { name, text: entry, file: source.file, locate: source.textLocator(base) };
  }
  const file = path.resolve(path.dirname(configFile), entry.file);
  const shownFile = path.join(path.dirname(configFile), entry.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return { problem: source.problem([...base, 'file'], `cannot read ${entry.file}: ${reason}`) };
  }
  return { name, text, file: shownFile, locate: textLocator(shownFile, text) };
}

/** Names must be unique across the engine and fit AgentCore's policy names. */
function checkPolicyNames(policies: readonly PolicyDefinition[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, PolicyDefinition>();
  for (const p of policies) {
    const display = `policy.policies.${p.source}`;
    const first = seen.get(p.id);
    if (first !== undefined) {
      problems.push(
        problemAt(
          p.at,
          display,
          `two policies are named "${p.id}" (the other at line ${first.at.line}); rename one`,
        ),
      );
    } else seen.set(p.id, p);
    if (p.id.length > 48) {
      problems.push(
        problemAt(
          p.at,
          display,
          `policy name "${p.id}" is over AgentCore's 48 characters; use a shorter name`,
        ),
      );
    }
  }
  return problems;
}

/** Warnings for tools of targets the fleet does not serve. */
function checkPolicyTargets(policies: readonly PolicyDefinition[], config: FleetConfig): Problem[] {
  const problems: Problem[] = [];
  const targets = new Set(config.servers.map((s) => s.gateway.target));
  for (const p of policies) {
    for (const action of p.actions ?? []) {
      const i = action.indexOf(TOOL_NAME_DELIMITER);
      const target = i === -1 ? undefined : action.slice(0, i);
      if (target !== undefined && targets.has(target)) continue;
      problems.push(
        problemAt(
          p.at,
          `policy.policies.${p.source}`,
          target === undefined
            ? `policy "${p.id}" names action "${action}", which is not a tool of this fleet (tools are <target>___<tool>)`
            : `policy "${p.id}" names tool "${action}", but the fleet has no target "${target}" (targets: ${[...targets].join(', ')})`,
          'warning',
        ),
      );
    }
  }
  return problems;
}

/**
 * Tag counts per resource: a server's resources carry the fleet's tags, the server's own and
 * the two mcp-fleet sets; AWS allows at most 50 per resource.
 */
export function checkTags(config: FleetConfig, source: SourceMap): Problem[] {
  const problems: Problem[] = [];
  const own = [FLEET_TAG, SERVER_TAG].length;
  for (const s of config.servers) {
    const count = Object.keys(s.tags).length + own;
    if (count > TAGS_PER_RESOURCE_MAX) {
      problems.push(
        source.problem(
          source.has(source.serverPath(s.id, 'tags')) ? source.serverPath(s.id, 'tags') : ['tags'],
          `server "${s.id}" would have ${count} tags per resource (its own, the fleet's and mcp-fleet's ${FLEET_TAG} and ${SERVER_TAG}); AWS allows at most ${TAGS_PER_RESOURCE_MAX}`,
          { key: true },
        ),
      );
    }
  }
  if (Object.keys(config.tags).length + 1 > TAGS_PER_RESOURCE_MAX) {
    problems.push(
      source.problem(
        ['tags'],
        `the gateway would have ${Object.keys(config.tags).length + 1} tags (the fleet's and ${FLEET_TAG}); AWS allows at most ${TAGS_PER_RESOURCE_MAX}`,
        { key: true },
      ),
    );
  }
  return problems;
}

/** How an offset in a YAML string's value maps to the file (block scalars keep their lines). */
export function scalarTextLocator(
  node: unknown,
  file: string,
  sourceText: string,
  linePos: (offset: number) => { line: number; col: number },
): (offset: number) => Position {
  if (!isScalar(node) || node.range === undefined || node.range === null) {
    return () => ({ file, line: 1, column: 1 });
  }
  const start = node.range[0];
  const startPos = linePos(start);
  if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
    // Content starts on the line after the header; its indentation is the first content line's.
    const lines = sourceText.slice(start).split('\n');
    const content = lines.slice(1).find((l) => l.trim() !== '') ?? '';
    const indent = content.length - content.trimStart().length;
    return (offset) => {
      const before = String(node.value).slice(0, offset).split('\n');
      return {
        file,
        line: startPos.line + before.length,
        column: indent + (before.at(-1)?.length ?? 0) + 1,
      };
    };
  }
  const quote = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE ? 1 : 0;
  return textLocator(file, String(node.value), { line: startPos.line, column: startPos.col + quote });
}
