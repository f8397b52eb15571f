import { AsyncLocalStorage } from 'node:async_hooks';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { FleetPolicy } from '../../config/policy.js';
import { gatewayArn, PolicySet, principalLabel, type Decision, type Principal } from '../../config/cedar.js';
import {
  failure,
  success,
  type RequestId as JsonRpcId,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';

/*
 * AgentCore Policy in the dev gateway: who the caller is (a static dev token per principal,
 * `--principals FILE`), the decision on every tools/call (the same Cedar engine, policies and
 * request shape as the deployed gateway's), tools/list filtered to what the caller may call,
 * and the decisions kept for /status and printed.
 */

/** The headers of the gateway request being served (set by the dev server around each request). */
export const gatewayRequest = new AsyncLocalStorage<{
  headers: Record<string, string>;
  /** The raw HTTP body (interceptors get it as `rawGatewayRequest.body`). */
  body?: string;
  /** The HTTP status an interceptor's transformedGatewayResponse asked for. */
  statusCode?: number;
}>();

/** Without `--principals`, every caller is this OAuth user, with no claims. */
export const DEV_PRINCIPAL: Principal = { kind: 'oauth', id: 'dev', claims: {} };

/** The JSON-RPC error code of a request without a known principal. */
export const UNAUTHORIZED = -32001;

/** AgentCore's words when a tool call is refused by policy. */
export const DENIED_PREFIX =
  'AuthorizeActionException - Tool Execution Denied: Tool call not allowed due to policy enforcement';

export interface DecisionRecord {
  at: string;
  principal: string;
  tool: string;
  decision: 'allow' | 'deny';
  /** The policies that decided. */
  policies: string[];
  reason: string;
  mode: FleetPolicy['mode'];
  /** Whether the call was refused (a deny in enforce mode). */
  refused: boolean;
  /** Policies that errored on this input (Cedar skips them). */
  errors?: string[];
}

/**
 * Reads a principals file: a map from bearer token to the caller, as JSON or YAML.
 * `{ "<token>": { sub: alice, role: reader, … } }` is an OAuth user (the claims, `sub` its id);
 * `{ "<token>": { iam: "arn:aws:iam::…" } }` an IAM identity.
 */
export async function loadPrincipals(file: string): Promise<Map<string, Principal>> {
  let data: unknown;
  try {
    data = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`--principals ${file}: ${(err as Error).message}`, { cause: err });
  }
  return principalsFrom(data, file);
}

export function principalsFrom(data: unknown, where: string): Map<string, Principal> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(
      `${where}: expected a map of bearer token → claims (e.g. { reader-token: { sub: alice, role: reader } })`,
    );
  }
  const out = new Map<string, Principal>();
  for (const [token, value] of Object.entries(data as Record<string, unknown>)) {
    const shown = `${token.slice(0, 4)}…`;
    if (token.length < 8)
      throw new Error(`${where}: token ${shown} is shorter than 8 characters; use a longer one`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${where}: the entry of token ${shown} is not a map of claims`);
    }
    const claims = value as Record<string, unknown>;
    if (typeof claims['iam'] === 'string') {
      out.set(token, { kind: 'iam', arn: claims['iam'] });
      continue;
    }
    if (typeof claims['sub'] !== 'string' || claims['sub'] === '') {
      throw new Error(
        `${where}: the entry of token ${shown} has no "sub" claim (the principal's id) or "iam" ARN`,
      );
    }
    out.set(token, { kind: 'oauth', id: claims['sub'], claims });
  }
  return out;
}

export interface GatewayAccessOptions {
  gatewayName: string;
  region?: string;
  /** Bearer token → principal; without, every caller is {@link DEV_PRINCIPAL}. */
  principals?: ReadonlyMap<string, Principal>;
  /** Each decision, as it is made (the terminal line). */
  onDecision?: (record: DecisionRecord) => void;
  /** Decisions kept for /status. */
  keep?: number;
}

/** The policy side of the dev gateway. */
export class GatewayAccess {
  private set: PolicySet;
  private readonly recent: DecisionRecord[] = [];
  private readonly counts = { allow: 0, deny: 0, refused: 0 };

  constructor(
    private policy: FleetPolicy,
    private readonly options: GatewayAccessOptions,
  ) {
    this.set = new PolicySet(policy.policies, gatewayArn(options.gatewayName, options.region));
  }

  get mode(): FleetPolicy['mode'] {
    return this.policy.mode;
  }

  /** A changed config (hot reload): the new policies apply to the next request. */
  update(policy: FleetPolicy): void {
    this.policy = policy;
    this.set = new PolicySet(policy.policies, this.set.gatewayArn);
  }

  /** The caller of the current request, or why it has none. */
  principal(): { principal: Principal } | { error: string } {
    if (this.options.principals === undefined) return { principal: DEV_PRINCIPAL };
    const headers = gatewayRequest.getStore()?.headers ?? {};
    const auth = headers['authorization'];
    const m = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m?.[1]) {
      return { error: 'no principal: send Authorization: Bearer <token> with a token from --principals' };
    }
    const p = this.options.principals.get(m[1]);
    return p === undefined ? { error: 'the bearer token is not one of --principals' } : { principal: p };
  }

  /** The answer to tools/list: in enforce mode, only the tools the caller may call. */
  list<T extends { name: string }>(
    id: JsonRpcId,
    tools: readonly T[],
    exempt: (t: T) => boolean,
  ): JsonRpcResponse {
    const who = this.principal();
    if ('error' in who) return failure(id, { code: UNAUTHORIZED, message: who.error });
    return success(id, { tools: this.filter(tools, who.principal, exempt) });
  }

  /** Before a tools/call goes to its function: the refusal, or undefined when it goes on. */
  call(id: JsonRpcId, tool: string, input: unknown): JsonRpcResponse | undefined {
    const who = this.principal();
    if ('error' in who) return failure(id, { code: UNAUTHORIZED, message: who.error });
    return this.check(who.principal, tool, input, id);
  }

  /** tools/list: in enforce mode, only the tools the caller may call (as AgentCore lists them). */
  filter<T extends { name: string }>(
    tools: readonly T[],
    principal: Principal,
    exempt: (t: T) => boolean,
  ): T[] {
    if (this.policy.mode !== 'enforce') return [...tools];
    return tools.filter((t) => exempt(t) || this.set.mayList(principal, t.name));
  }

  /**
   * tools/call: decides, records and prints; answers the refusal (in enforce mode) or undefined
   * when the call goes on.
   */
  check(principal: Principal, tool: string, input: unknown, id: JsonRpcId): JsonRpcResponse | undefined {
    const d: Decision = this.set.authorize(principal, tool, input);
    const refused = d.decision === 'deny' && this.policy.mode === 'enforce';
    const record: DecisionRecord = {
      at: new Date().toISOString(),
      principal: principalLabel(principal),
      tool,
      decision: d.decision,
      policies: d.policies,
      reason: d.reason,
      mode: this.policy.mode,
      refused,
    };
    if (d.errors.length > 0) record.errors = d.errors;
    this.counts[d.decision] += 1;
    if (refused) this.counts.refused += 1;
    this.recent.push(record);
    if (this.recent.length > (this.options.keep ?? 100)) this.recent.shift();
    this.options.onDecision?.(record);
    if (!refused) return undefined;
    return success(id, {
      isError: true,
      content: [{ type: 'text', text: `${DENIED_PREFIX} [${d.reason}]` }],
    });
  }

  /** For /status. */
  status(): Record<string, unknown> {
    return {
      mode: this.policy.mode,
      policies: this.policy.policies.map((p) => p.id),
      principals:
        this.options.principals === undefined
          ? [principalLabel(DEV_PRINCIPAL)]
          : [...new Set([...this.options.principals.values()].map(principalLabel))],
      decisions: { ...this.counts },
      recent: [...this.recent].reverse(),
    };
  }
}

/** One terminal line per decision. */
export function decisionLine(r: DecisionRecord): string {
  const verdict =
    r.decision === 'allow' ? 'ALLOW' : r.refused ? 'DENY (refused)' : 'DENY (log-only: allowed through)';
  return `  policy ${verdict}  ${r.tool}  ${r.principal}  ${r.reason}`;
}
