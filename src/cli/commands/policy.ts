import { formatProblem, loadConfig } from '../../config/index.js';
import { TOOL_NAME_DELIMITER } from '../../config/limits.js';
import { DEV_PRINCIPAL, principalsFrom } from '../../local/gateway/identity.js';
import { gatewayArn, PolicySet, principalLabel, type Principal } from '../../config/cedar.js';
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

/**
 * `mcp-fleet policy test TOOL`: one request decided offline against the fleet's policies, by
 * the Cedar engine, as the gateway would decide it: the decision and the policies behind it.
 */
export async function policyTestCommand(tool: string, options: PolicyTestOptions): Promise<number> {
  if (options.expect !== undefined && options.expect !== 'allow' && options.expect !== 'deny') {
    throw new CliError(`--expect ${options.expect}: use allow or deny`, EXIT.USAGE);
  }
  let principal: Principal = DEV_PRINCIPAL;
  if (options.principal !== undefined) {
    const claims = parseJson('--principal', options.principal);
    try {
      const one = principalsFrom({ 'the-principal': claims }, '--principal').get('the-principal');
      if (one) principal = one;
    } catch (err) {
      throw new CliError((err as Error).message.replace(/ of token the-…/, ''), EXIT.USAGE);
    }
  }
  const args = options.arguments === undefined ? {} : parseJson('--arguments', options.arguments);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new CliError('--arguments: expected a JSON object, e.g. \'{"path": "README.md"}\'', EXIT.USAGE);
  }

  const { config, problems } = await loadConfig(options.config);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (config === undefined) throw new CliError(`${options.config} is not valid; fix the problems above`);
  if (config.policy === undefined) {
    throw new CliError(`${options.config} has no policy: section; every call is allowed (no policy engine)`);
  }
  const at = tool.indexOf(TOOL_NAME_DELIMITER);
  const targets = new Set(config.servers.map((s) => s.gateway.target));
  const notes: string[] = [];
  if (at === -1 || !targets.has(tool.slice(0, at))) {
    notes.push(
      `"${tool}" is not a tool of this fleet's targets (${[...targets].join(', ')}); tools are <target>___<tool>`,
    );
  }
  const set = new PolicySet(config.policy.policies, gatewayArn(config.gateway.name, config.region));
  const d = set.authorize(principal, tool, args);
  const listed = set.mayList(principal, tool);
  const byId = new Map(config.policy.policies.map((p) => [p.id, p]));
  const deciding = d.policies.map((id) => {
    const p = byId.get(id);
    return { id, effect: p?.effect, at: p ? `${p.at.file}:${p.at.line}:${p.at.column}` : undefined };
  });
  if (options.json === true) {
    process.stdout.write(
      `${JSON.stringify(
        {
          principal: principalLabel(principal),
          action: tool,
          decision: d.decision,
          mode: config.policy.mode,
          refusedInMode: d.decision === 'deny' && config.policy.mode === 'enforce',
          listed,
          policies: deciding,
          errors: d.errors,
          reason: d.reason,
          notes,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const out = (line: string): void => {
      process.stdout.write(`${line}\n`);
    };
    out(
      `${d.decision.toUpperCase()}  ${principalLabel(principal)} → AgentCore::Action::${JSON.stringify(tool)}`,
    );
    out(`  ${d.reason}`);
    for (const p of deciding) out(`  ${p.effect ?? 'policy'} ${p.id}  ${p.at ?? ''}`);
    for (const e of d.errors) out(`  not evaluated (error): ${e}`);
    out(`  in tools/list: ${listed ? 'shown' : 'hidden'} (enforce mode)`);
    out(
      `  mode ${config.policy.mode}: ${config.policy.mode === 'enforce' ? (d.decision === 'deny' ? 'the call is refused' : 'the call goes on') : 'logged only, the call goes on'}`,
    );
    for (const n of notes) out(`  note: ${n}`);
  }
  if (options.expect !== undefined && options.expect !== d.decision) {
    process.stderr.write(`expected ${options.expect}, got ${d.decision}\n`);
    return EXIT.FAILURE;
  }
  return EXIT.OK;
}
