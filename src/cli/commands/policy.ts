import { formatProblem, loadConfig } from '../../config/index.js';
import { TOOL_NAME_DELIMITER } from '../../config/limits.js';
import { DEV_PRINCIPAL, principalsFrom } from '../../local/gateway/identity.js';
import {
  gatewayArn,
  PolicySet,
  principalLabel,
  type Decision,
  type PolicyDefinition,
  type Principal,
} from '../../config/cedar.js';
import type { FleetConfig } from '../../config/model.js';
import type { FleetPolicy } from '../../config/policy.js';
import { CliError, EXIT } from '../exit.js';

export interface PolicyTestOptions {
  config: string;
  /** JSON claims ({ "sub": …, … }) or { "iam": ARN }. */
  principal?: string;
  /** JSON object: the tool's arguments. */
  arguments?: string;
  /** Exit 1 unless the decision is this. */
  expect?: string;
  json?: boolean;
}

function parseJson(what: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new CliError(`${what}: not JSON (${(err as Error).message})`, EXIT.USAGE);
  }
}

/** What `policy test` found: the JSON it prints with --json, and what its text shows. */
interface PolicyTestResult {
  principal: string;
  action: string;
  decision: Decision['decision'];
  mode: FleetPolicy['mode'];
  /** Whether the gateway would refuse the call (a denial in enforce mode). */
  refusedInMode: boolean;
  /** Whether the tool is in the principal's tools/list (enforce mode). */
  listed: boolean;
  /** The policies that decided, with their effect and where they are written. */
  policies: { id: string; effect: PolicyDefinition['effect'] | undefined; at: string | undefined }[];
  errors: string[];
  reason: string;
  notes: string[];
}

/**
 * `mcp-fleet policy test TOOL`: one request decided offline against the fleet's policies, by
 * the Cedar engine, as the gateway would decide it: the decision and the policies behind it.
 */
export async function policyTestCommand(tool: string, options: PolicyTestOptions): Promise<number> {
  if (options.expect !== undefined && options.expect !== 'allow' && options.expect !== 'deny') {
    throw new CliError(`--expect ${options.expect}: use allow or deny`, EXIT.USAGE);
  }
  const principal = principalOf(options.principal);
  const args = argumentsOf(options.arguments);
  const { config, policy } = await loadPolicy(options.config);
  const result = decide(config, policy, { principal, tool, args });
  if (options.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else printDecision(result);
  if (options.expect !== undefined && options.expect !== result.decision) {
    process.stderr.write(`expected ${options.expect}, got ${result.decision}\n`);
    return EXIT.FAILURE;
  }
  return EXIT.OK;
}

/** The principal of `--principal` (claims, or { "iam": ARN }); the dev principal without it. */
function principalOf(option: string | undefined): Principal {
  if (option === undefined) return DEV_PRINCIPAL;
  const claims = parseJson('--principal', option);
  try {
    return principalsFrom({ 'the-principal': claims }, '--principal').get('the-principal') ?? DEV_PRINCIPAL;
  } catch (err) {
    throw new CliError((err as Error).message.replace(/ of token the-…/, ''), EXIT.USAGE);
  }
}

/** The tool's arguments of `--arguments`: a JSON object (none: {}). */
function argumentsOf(option: string | undefined): object {
  const args = option === undefined ? {} : parseJson('--arguments', option);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new CliError('--arguments: expected a JSON object, e.g. \'{"path": "README.md"}\'', EXIT.USAGE);
  }
  return args;
}

/** The fleet and its policy; its problems go to stderr, and a fleet without policy: is an error. */
async function loadPolicy(file: string): Promise<{ config: FleetConfig; policy: FleetPolicy }> {
  const { config, problems } = await loadConfig(file);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (config === undefined) throw new CliError(`${file} is not valid; fix the problems above`);
  if (config.policy === undefined) {
    throw new CliError(`${file} has no policy: section; every call is allowed (no policy engine)`);
  }
  return { config, policy: config.policy };
}

/** One call decided by the Cedar engine as the gateway would decide it, and whether it is listed. */
function decide(
  config: FleetConfig,
  policy: FleetPolicy,
  request: { principal: Principal; tool: string; args: object },
): PolicyTestResult {
  const { principal, tool, args } = request;
  const at = tool.indexOf(TOOL_NAME_DELIMITER);
  const targets = new Set(config.servers.map((s) => s.gateway.target));
  const notes: string[] = [];
  if (at === -1 || !targets.has(tool.slice(0, at))) {
    notes.push(
      `"${tool}" is not a tool of this fleet's targets (${[...targets].join(', ')}); tools are <target>___<tool>`,
    );
  }
  const set = new PolicySet(policy.policies, gatewayArn(config.gateway.name, config.region));
  const d = set.authorize(principal, tool, args);
  const listed = set.mayList(principal, tool);
  const byId = new Map(policy.policies.map((p) => [p.id, p]));
  const deciding = d.policies.map((id) => {
    const p = byId.get(id);
    return { id, effect: p?.effect, at: p ? `${p.at.file}:${p.at.line}:${p.at.column}` : undefined };
  });
  return {
    principal: principalLabel(principal),
    action: tool,
    decision: d.decision,
    mode: policy.mode,
    refusedInMode: d.decision === 'deny' && policy.mode === 'enforce',
    listed,
    policies: deciding,
    errors: d.errors,
    reason: d.reason,
    notes,
  };
}

function printDecision(r: PolicyTestResult): void {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  out(`${r.decision.toUpperCase()}  ${r.principal} → AgentCore::Action::${JSON.stringify(r.action)}`);
  out(`  ${r.reason}`);
  for (const p of r.policies) out(`  ${p.effect ?? 'policy'} ${p.id}  ${p.at ?? ''}`);
  for (const e of r.errors) out(`  not evaluated (error): ${e}`);
  out(`  in tools/list: ${r.listed ? 'shown' : 'hidden'} (enforce mode)`);
  out(
    `  mode ${r.mode}: ${r.mode === 'enforce' ? (r.decision === 'deny' ? 'the call is refused' : 'the call goes on') : 'logged only, the call goes on'}`,
  );
  for (const n of r.notes) out(`  note: ${n}`);
}
