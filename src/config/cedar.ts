import { createRequire } from 'node:module';
import v8 from 'node:v8';
import type * as Cedar from '@cedar-policy/cedar-wasm/nodejs';

/*
 * AgentCore Policy's Cedar, evaluated with the Cedar engine itself (@cedar-policy/cedar-wasm):
 * the entity and action names AgentCore's gateway uses, the request it builds from a tool call
 * (principal from the caller's claims, action `<target>___<tool>`, context.input = the
 * arguments), default deny and forbid-wins (Cedar's own semantics), and tools/list as a partial
 * evaluation with the input unknown (a tool is listed when some input could be allowed).
 */

/** The Cedar namespace of every AgentCore Gateway entity. */
export const NAMESPACE = 'AgentCore';
export const OAUTH_USER = `${NAMESPACE}::OAuthUser`;
export const IAM_ENTITY = `${NAMESPACE}::IamEntity`;
export const ACTION = `${NAMESPACE}::Action`;
export const GATEWAY = `${NAMESPACE}::Gateway`;
/** Every tool action is a CallTool, which is an Mcp action. */
export const CALL_TOOL = 'CallTool';
export const MCP_ACTION = 'Mcp';

let engine: typeof Cedar | undefined;

/**
 * The V8 flag that works around a crash of Node.js 20's V8 (seen 2026-12-07, Node.js v20.20.2): a
 * `dev` gateway deciding policy under steady concurrent load died with "Fatal error … unreachable
 * code" in `Deoptimizer::DoComputeBuiltinContinuation` after 1,800–8,600 calls, while deoptimizing
 * an optimized function that had inlined the engine's JavaScript-to-WebAssembly call
 * (`--trace-deopt-verbose`: "JS to Wasm builtin continuation frame authorize"). Without that
 * inlining the same load ran on (docs/architecture.md); a call into the engine costs the same.
 */
export const NO_JS_WASM_INLINING = '--no-turbo-inline-js-wasm-calls';

/** The Cedar engine, loaded on first use (about 30 ms: its WebAssembly module is compiled then). */
export function cedar(): typeof Cedar {
  if (engine === undefined) {
    // Before any code that calls the engine is optimized (the flag is read when V8 optimizes).
    v8.setFlagsFromString(NO_JS_WASM_INLINING);
    engine = createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as typeof Cedar;
  }
  return engine;
}

export function cedarVersion(): string {
  return cedar().getCedarVersion();
}

/** A place in a file, 1-based. */
export interface Position {
  file: string;
  line: number;
  column: number;
}

/** Where Cedar text came from: the file, and how an offset in the text maps to a position in it. */
export interface CedarSource {
  /** The name given to the policies of this text (one statement) or their prefix (several). */
  name: string;
  text: string;
  file: string;
  /** 0-based offset in `text` → position in `file`. */
  locate: (offset: number) => Position;
}

export interface PolicyDefinition {
  /** The policy's name: AgentCore's policy name and the id the engine reports. */
  id: string;
  /** The name of the text it came from (`policy.policies.<source>`). */
  source: string;
  /** One Cedar statement. */
  statement: string;
  effect: 'permit' | 'forbid';
  /** The tool actions the scope names (`<target>___<tool>`); undefined when it names none (all). */
  actions?: string[];
  /** The action groups (CallTool, Mcp) the scope names with `in`. */
  groups: string[];
  at: Position;
}

export interface CedarProblem extends Position {
  message: string;
}

/** Positions in a text: 1-based line and column of an offset. */
export function textLocator(file: string, text: string, base = { line: 1, column: 1 }) {
  return (offset: number): Position => {
    const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
    const lines = before.split('\n');
    const line = base.line + lines.length - 1;
    const column = lines.length === 1 ? base.column + before.length : (lines.at(-1)?.length ?? 0) + 1;
    return { file, line, column };
  };
}

function describeError(e: Cedar.DetailedError): string {
  const label = e.sourceLocations?.find((l) => l.label !== null)?.label;
  let message = e.message.replace(/^failed to parse policies from string: /, '');
  if (label) message += `; ${label}`;
  if (e.help) message += ` (${e.help})`;
  return message;
}

/**
 * Parses Cedar text with the engine: every syntax error at its position, else each statement
 * as a policy (named after the source, `<name>_<n>` when the text holds several).
 */
export function parseCedar(source: CedarSource): { policies: PolicyDefinition[]; problems: CedarProblem[] } {
  const c = cedar();
  const checked = c.checkParsePolicySet({ staticPolicies: source.text });
  if (checked.type === 'failure') {
    return {
      policies: [],
      problems: checked.errors.map((e) => ({
        ...source.locate(e.sourceLocations?.[0]?.start ?? 0),
        message: `Cedar: ${describeError(e)}`,
      })),
    };
  }
  const parts = c.policySetTextToParts(source.text);
  if (parts.type === 'failure') {
    return {
      policies: [],
      problems: parts.errors.map((e) => ({ ...source.locate(0), message: `Cedar: ${describeError(e)}` })),
    };
  }
  const problems: CedarProblem[] = [];
  if (parts.policy_templates.length > 0) {
    problems.push({
      ...source.locate(0),
      message:
        'Cedar templates (?principal, ?resource) are not supported by AgentCore Policy; write static policies',
    });
  }
  if (parts.policies.length === 0) {
    problems.push({
      ...source.locate(0),
      message: 'no Cedar policy here; write a permit or forbid statement',
    });
  }
  const policies: PolicyDefinition[] = [];
  let from = 0;
  parts.policies.forEach((statement, i) => {
    const found = source.text.indexOf(statement, from);
    const offset = found === -1 ? from : found;
    if (found !== -1) from = found + statement.length;
    const json = c.policyToJson(statement);
    if (json.type === 'failure') {
      problems.push({
        ...source.locate(offset),
        message: `Cedar: ${json.errors.map(describeError).join('; ')}`,
      });
      return;
    }
    const { actions, groups } = scopeActions(json.json.action);
    const foreign = [...entityTypes(json.json)].filter((t) => !AGENTCORE_ENTITY_TYPES.includes(t));
    if (foreign.length > 0) {
      problems.push({
        ...source.locate(offset),
        message: `names ${foreign.map((t) => t).join(', ')}: AgentCore's policy schema has only ${AGENTCORE_ENTITY_TYPES.join(', ')}`,
      });
    }
    const def: PolicyDefinition = {
      id: parts.policies.length === 1 ? source.name : `${source.name}_${i + 1}`,
      source: source.name,
      statement,
      effect: json.json.effect,
      groups,
      at: source.locate(offset),
    };
    if (actions !== undefined) def.actions = actions;
    policies.push(def);
  });
  return { policies, problems };
}

function uidOf(e: Cedar.EntityUidJson): Cedar.TypeAndId {
  return '__entity' in e ? e.__entity : e;
}

function scopeActions(scope: Cedar.ActionConstraint): { actions?: string[]; groups: string[] } {
  if (scope.op === 'All') return { groups: [] };
  const uids =
    scope.op === '=='
      ? 'entity' in scope
        ? [scope.entity]
        : []
      : 'entity' in scope
        ? [scope.entity]
        : scope.entities;
  const ids = uids.map(uidOf);
  const groups = ids.filter((u) => u.id === CALL_TOOL || u.id === MCP_ACTION).map((u) => u.id);
  const actions = ids.filter((u) => u.id !== CALL_TOOL && u.id !== MCP_ACTION).map((u) => u.id);
  return groups.length > 0 && actions.length === 0 ? { groups } : { actions, groups };
}

/** Entity types a policy names (in its scope or its conditions), from the engine's JSON form. */
function entityTypes(json: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(json)) for (const v of json) entityTypes(v, into);
  else if (typeof json === 'object' && json !== null) {
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      if (k === 'entity_type' && typeof v === 'string') into.add(v);
      else if ((k === '__entity' || k === 'entity') && typeof v === 'object' && v !== null && 'type' in v) {
        const t = v.type;
        if (typeof t === 'string') into.add(t);
      } else if (k === 'entities' && Array.isArray(v)) {
        for (const e of v as unknown[])
          if (typeof e === 'object' && e !== null && 'type' in e && typeof e.type === 'string')
            into.add(e.type);
      } else entityTypes(v, into);
    }
  }
  return into;
}

/** AgentCore's schema knows these entity types only. */
export const AGENTCORE_ENTITY_TYPES: readonly string[] = [OAUTH_USER, IAM_ENTITY, ACTION, GATEWAY];

/** Who calls: an OAuth user (JWT claims as tags) or an IAM identity (its ARN). */
export type Principal =
  | { kind: 'oauth'; id: string; claims: Record<string, unknown> }
  /** `sourceIdentity`: what the caller set when it assumed its role (rate limits may key on it). */
  | { kind: 'iam'; arn: string; sourceIdentity?: string };

export function principalLabel(p: Principal): string {
  return p.kind === 'oauth'
    ? `${OAUTH_USER}::${JSON.stringify(p.id)}`
    : `${IAM_ENTITY}::${JSON.stringify(p.arn)}`;
}

export interface Decision {
  decision: 'allow' | 'deny';
  /** The policies that decided (the permits that allowed, or the forbids that denied). */
  policies: string[];
  /** Policies that could not be evaluated (e.g. an attribute the input lacks); Cedar skips them. */
  errors: string[];
  /** AgentCore's words for a denial. */
  reason: string;
}

/** A JSON value as a Cedar value: integers are Longs, other numbers decimals, null left out. */
export function toCedarValue(value: unknown): Cedar.CedarValueJson | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    if (!Number.isFinite(value)) return undefined;
    // Cedar's decimal: at most 4 digits after the point.
    const fixed = value.toFixed(4);
    return { __extn: { fn: 'decimal', arg: fixed.includes('.') ? fixed : `${fixed}.0` } };
  }
  if (Array.isArray(value)) return value.map(toCedarValue).filter((v) => v !== undefined);
  if (typeof value === 'object') {
    const out: Record<string, Cedar.CedarValueJson> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const c = toCedarValue(v);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return undefined;
}

/** Claims become the OAuth user's tags (AgentCore: principal.hasTag / getTag); strings as they are. */
function claimTags(claims: Record<string, unknown>): Record<string, Cedar.CedarValueJson> {
  const tags: Record<string, Cedar.CedarValueJson> = {};
  for (const [k, v] of Object.entries(claims)) {
    const c = typeof v === 'string' ? v : toCedarValue(v);
    if (c !== undefined) tags[k] = c;
  }
  return tags;
}

/**
 * The fleet's policies in the engine: decides tool calls and tool listings as AgentCore's
 * gateway does.
 */
export class PolicySet {
  private readonly policies: Record<string, string>;

  constructor(
    readonly definitions: readonly PolicyDefinition[],
    /** The gateway's ARN: the resource of every request. */
    readonly gatewayArn: string,
  ) {
    this.policies = Object.fromEntries(definitions.map((d) => [d.id, d.statement]));
  }

  private request(principal: Principal, tool: string, context: Cedar.Context) {
    const uid =
      principal.kind === 'oauth'
        ? { type: OAUTH_USER, id: principal.id }
        : { type: IAM_ENTITY, id: principal.arn };
    const entities: Cedar.EntityJson[] = [
      principal.kind === 'oauth'
        ? { uid, attrs: { id: principal.id }, parents: [], tags: claimTags(principal.claims) }
        : { uid, attrs: { id: principal.arn }, parents: [] },
      { uid: { type: ACTION, id: tool }, attrs: {}, parents: [{ type: ACTION, id: CALL_TOOL }] },
      { uid: { type: ACTION, id: CALL_TOOL }, attrs: {}, parents: [{ type: ACTION, id: MCP_ACTION }] },
      { uid: { type: ACTION, id: MCP_ACTION }, attrs: {}, parents: [] },
      { uid: { type: GATEWAY, id: this.gatewayArn }, attrs: {}, parents: [] },
    ];
    return {
      principal: uid,
      action: { type: ACTION, id: tool },
      resource: { type: GATEWAY, id: this.gatewayArn },
      context,
      policies: { staticPolicies: this.policies },
      entities,
    };
  }

  /** The decision on one tool call, with the tool's arguments as context.input. */
  authorize(principal: Principal, tool: string, input: unknown): Decision {
    const ctxInput = toCedarValue(input ?? {}) ?? {};
    const answer = cedar().isAuthorized(this.request(principal, tool, { input: ctxInput }));
    if (answer.type === 'failure') {
      return {
        decision: 'deny',
        policies: [],
        errors: answer.errors.map(describeError),
        reason: `Policy evaluation failed: ${answer.errors.map(describeError).join('; ')}`,
      };
    }
    const { decision, diagnostics } = answer.response;
    const policies = [...diagnostics.reason].sort();
    return {
      decision,
      policies,
      errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
      reason:
        decision === 'allow'
          ? `Allowed by ${policies.join(', ')}`
          : policies.length === 0
            ? 'Policy evaluation denied due to no determining policies'
            : `Policy evaluation denied by ${policies.join(', ')}`,
    };
  }

  /**
   * Whether a tool is listed to the principal: AgentCore lists a tool when some call to it could
   * be allowed, so the input is left unknown and only a certain deny hides it.
   */
  mayList(principal: Principal, tool: string): boolean {
    const answer = cedar().isAuthorizedPartial(
      this.request(principal, tool, { input: { __extn: { fn: 'unknown', arg: 'context.input' } } }),
    );
    if (answer.type === 'failure') return false;
    if (answer.response.decision === 'deny') return false;
    if (answer.response.decision === 'allow') return true;
    // Undecided: listed when a permit may still decide.
    const permits = new Set(this.definitions.filter((d) => d.effect === 'permit').map((d) => d.id));
    return answer.response.mayBeDetermining.some((id) => permits.has(id));
  }
}

/** The ARN AgentCore gives a gateway; the dev gateway uses it with a placeholder account. */
export function gatewayArn(name: string, region = 'us-east-1', account = '000000000000'): string {
  return `arn:aws:bedrock-agentcore:${region}:${account}:gateway/${name}`;
}
