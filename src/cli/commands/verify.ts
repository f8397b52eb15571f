import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { verifyFleet, type Check, type Verification } from '../../verify/verify.js';
import { CliError, EXIT } from '../exit.js';
import { loadValidConfig } from './build.js';
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

/** The deployed stack's GatewayUrl output. */
async function gatewayUrlFromStack(stack: string, region: string): Promise<string | undefined> {
  const cfn = new CloudFormationClient({ region });
  try {
    const res = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    return res.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'GatewayUrl')?.OutputValue;
  } catch (err) {
    throw new CliError(
      `cannot read the outputs of stack ${stack} in ${region}: ${(err as Error).message}; give --gateway-url, or deploy first`,
    );
  }
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
  const token = opts.token ?? process.env['MCP_FLEET_GATEWAY_TOKEN'];
  const { client, where } = await lambdaClient({ ...opts, ...(token !== undefined ? { token } : {}) });
  const local = /^https?:\/\/(127\.|localhost|\[::1\])/.test(where);
  let gatewayUrl = opts.gatewayUrl;
  if (gatewayUrl === undefined && local) gatewayUrl = `${where.replace(/\/$/, '')}/mcp`;
  if (gatewayUrl === undefined && opts.endpoint === undefined) {
    const region = opts.region ?? fleet.region ?? process.env['AWS_REGION'];
    if (region === undefined) throw new CliError('no region: give --region or set AWS_REGION', EXIT.USAGE);
    gatewayUrl = await gatewayUrlFromStack(fleet.stack, region);
  }
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
