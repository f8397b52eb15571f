import { OUTPUTS } from '../../infra/outputs.js';
import { gatewayToken, stackOutputs } from '../../verify/stack.js';
import { verifyFleet, type Check, type Verification } from '../../verify/verify.js';
import { CliError, EXIT } from '../exit.js';
import { loadValidConfig } from '../load-config.js';
import { lambdaClient } from './lambda-client.js';

export interface VerifyCommandOptions {
  config: string;
  endpoint?: string;
  region?: string;
  gatewayUrl?: string;
  token?: string;
  only?: string[];
  json?: boolean;
}

const cell = (c: Check): string =>
  `${c.status === 'pass' ? 'PASS' : c.status === 'fail' ? 'FAIL' : 'skip'}${c.ms !== undefined ? ` ${c.ms.toFixed(0).padStart(5)} ms` : '         '}`;

export function verificationTable(v: Verification): string {
  const width = Math.max(6, ...v.servers.map((s) => s.id.length));
  const lines = [
    `${'server'.padEnd(width)}  ${'lambda tools/list'.padEnd(18)}${'agentcore call'.padEnd(18)}${'gateway'.padEnd(18)}details`,
  ];
  for (const s of v.servers) {
    const failed = [s.toolsList, s.agentCoreCall, s.gateway].find((c) => c.status === 'fail');
    const detail =
      failed?.detail ??
      [s.toolsList.detail, s.agentCoreCall.status === 'pass' ? s.agentCoreCall.detail : '']
        .filter(Boolean)
        .join('; ');
    lines.push(
      `${s.id.padEnd(width)}  ${cell(s.toolsList).padEnd(18)}${cell(s.agentCoreCall).padEnd(18)}${cell(s.gateway).padEnd(18)}${detail}`,
    );
  }
  lines.push('', `gateway: ${cell(v.gateway).trim()} ${v.gateway.detail}`);
  const checks = v.servers.flatMap((s) => [s.toolsList, s.agentCoreCall, s.gateway]);
  const count = (st: string): number => checks.filter((c) => c.status === st).length;
  lines.push(
    `${v.ok ? 'verified' : 'NOT verified'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`,
  );
  return lines.join('\n');
}

export async function verifyCommand(opts: VerifyCommandOptions): Promise<number> {
  const fleet = await loadValidConfig(opts.config);
  let gatewayUrl = opts.gatewayUrl;
  let token = opts.token ?? process.env['MCP_FLEET_GATEWAY_TOKEN'];
  // A deployed fleet (--region): the gateway's URL and, for Cognito auth, a token from the stack.
  if (opts.region !== undefined && (gatewayUrl === undefined || token === undefined)) {
    const aws = { region: opts.region };
    try {
      const outputs = await stackOutputs(fleet.stack, aws);
      gatewayUrl ??= outputs[OUTPUTS.gatewayUrl];
      token ??= await gatewayToken(outputs, aws);
    } catch (err) {
      throw new CliError(`${(err as Error).message}; give --gateway-url and --token, or deploy first`);
    }
  }
  const { client, where } = await lambdaClient({ ...opts, ...(token !== undefined ? { token } : {}) });
  const local = /^https?:\/\/(127\.|localhost|\[::1\])/.test(where);
  if (gatewayUrl === undefined && local) gatewayUrl = `${where.replace(/\/$/, '')}/mcp`;
  const result = await verifyFleet(fleet, {
    lambda: client,
    ...(gatewayUrl !== undefined ? { gatewayUrl } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(opts.only !== undefined ? { only: opts.only } : {}),
  });
  if (opts.json === true)
    process.stdout.write(`${JSON.stringify({ lambda: where, gatewayUrl, ...result }, null, 2)}\n`);
  else
    process.stdout.write(
      `verifying ${fleet.servers.length} servers through ${where}\n\n${verificationTable(result)}\n`,
    );
  return result.ok ? EXIT.OK : EXIT.FAILURE;
}
