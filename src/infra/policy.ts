import * as agentcore from 'aws-cdk-lib/aws-bedrockagentcore';
import { Construct } from 'constructs';
import type { FleetPolicy } from '../config/policy.js';

/** AgentCore: policy engine names are a letter, then letters, digits and '_', at most 48. */
const ENGINE_NAME_MAX = 48;

/** The engine's name from the gateway's: '-' becomes '_', `_policies` appended (cut to 48). */
export function policyEngineName(gatewayName: string): string {
  const base = gatewayName.replace(/-/g, '_');
  const name = `${/^[A-Za-z]/.test(base) ? '' : 'g_'}${base}`;
  return `${name.slice(0, ENGINE_NAME_MAX - '_policies'.length)}_policies`;
}

export interface McpFleetPolicyProps {
  readonly gatewayName: string;
  readonly policy: FleetPolicy;
}

/**
 * The fleet's AgentCore Policy: a policy engine with one policy per Cedar statement of
 * `policy:` (named as in the config), to be attached to the gateway in the configured mode.
 */
export class McpFleetPolicy extends Construct {
  readonly engine: agentcore.PolicyEngine;
  readonly policies: agentcore.Policy[] = [];
  readonly mode: agentcore.PolicyEngineMode;

  constructor(scope: Construct, id: string, props: McpFleetPolicyProps) {
    super(scope, id);
    this.mode =
      props.policy.mode === 'enforce'
        ? agentcore.PolicyEngineMode.ENFORCE
        : agentcore.PolicyEngineMode.LOG_ONLY;
    this.engine = new agentcore.PolicyEngine(this, 'Engine', {
      policyEngineName: policyEngineName(props.gatewayName),
      description: `Who may call which tool of gateway ${props.gatewayName} (mcp-fleet policy:)`,
    });
    for (const def of props.policy.policies) {
      // addPolicy chains the policies one after another (the service refuses concurrent creation).
      this.policies.push(
        this.engine.addPolicy(`Policy-${def.id}`, {
          policyName: def.id,
          statement: agentcore.PolicyStatement.fromCedar(def.statement),
          description: `${def.effect} — ${def.at.file}:${def.at.line}`.slice(0, 4096),
        }),
      );
    }
  }

  /** For the gateway's `policyEngineConfiguration`. */
  get configuration(): agentcore.GatewayPolicyEngineConfig {
    return { policyEngine: this.engine, mode: this.mode };
  }
}
