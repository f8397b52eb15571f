import type { FleetPolicy } from '../../config/policy.js';
import { gatewayArn, PolicySet, principalLabel, type Decision, type Principal } from '../../config/cedar.js';
import type { Caller } from '../../protocol/bridge.js';
import {
  failure,
  success,
  type RequestId as JsonRpcId,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import { DEV_PRINCIPAL, identify, UNAUTHORIZED } from './identity.js';

/*
 * AgentCore Policy in the dev gateway: the decision on every tools/call for the caller the
 * request carries (identity.ts; the same Cedar engine, policies and request shape as the deployed
 * gateway's), tools/list filtered to what the caller may call, and the decisions kept for
 * /status and printed.
 */

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

export interface GatewayAccessOptions {
  gatewayName: string;
  region?: string;
  /** Bearer token → principal (`--principals`); without, every caller is {@link DEV_PRINCIPAL}. */
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

  /** Who asks: the caller's identity from the inbound auth; a request with no HTTP caller has none. */
  private principal(caller: Caller | undefined): Caller['principal'] {
    return caller?.principal ?? identify({}, this.options.principals);
  }

  /** The answer to tools/list: in enforce mode, only the tools the caller may call. */
  list<T extends { name: string }>(
    id: JsonRpcId,
    tools: readonly T[],
    exempt: (t: T) => boolean,
    caller: Caller | undefined,
  ): JsonRpcResponse {
    const who = this.principal(caller);
    if ('error' in who) return failure(id, { code: UNAUTHORIZED, message: who.error });
    return success(id, { tools: this.filter(tools, who.principal, exempt) });
  }

  /** Before a tools/call goes to its function: the refusal, or undefined when it goes on. */
  call(id: JsonRpcId, tool: string, input: unknown, caller: Caller | undefined): JsonRpcResponse | undefined {
    const who = this.principal(caller);
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
