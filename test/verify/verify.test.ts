import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import type { Verification } from '../../src/verify/verify.js';
import { gitRepo, pythonTool, runCli, startMoto, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, marker } from '../runtime/support.js';

const TOKEN = 'verify-test-token';
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let fleet: RunningFleet;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const repo = path.join(dir, 'repo');
  await gitRepo(repo);
  await writeFile(path.join(dir, 'hello.txt'), 'hello from the verify test\n');
  configFile = path.join(dir, 'servers.yaml');
  await writeFile(
    configFile,
    `stack: VerifyTest
defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: ${JSON.stringify(path.join(dir, 'memory.jsonl'))} }
    verify: { tool: read_graph }
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    verify: { tool: echo, arguments: { message: verified } }
  filesystem:
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
    verify: { tool: read_text_file, arguments: { path: ${JSON.stringify(path.join(dir, 'hello.txt'))} } }
  git:
    command: ${JSON.stringify(pythonTool('mcp-server-git'))}
    verify: { tool: git_status, arguments: { repo_path: ${JSON.stringify(repo)} } }
  no-verify:
    command: ${BIN('mcp-server-memory')}
  everything-mcp:
    description: an MCP-server target (prompts and resources through the gateway)
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    gateway: { targetType: mcp, target: ev-mcp }
    verify: { tool: echo, arguments: { message: through its Function URL } }
  wrong:
    description: its verify call fails (the file does not exist)
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
    verify: { tool: read_text_file, arguments: { path: ${JSON.stringify(path.join(dir, 'missing.txt'))} } }
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(configFile), {
    port: 0,
    token: TOKEN,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

const verify = async (
  ...args: string[]
): Promise<{ code: number | null; result: Verification; stderr: string }> => {
  const r = await runCli(['verify', '--config', configFile, '--endpoint', fleet.url, '--json', ...args]);
  return { code: r.code, result: JSON.parse(r.stdout) as Verification, stderr: r.stderr };
};

describe('mcp-fleet verify against the local fleet', () => {
  test('passes: Lambda tools/list, the AgentCore-style call and the gateway, for every server', async () => {
    const { code, result, stderr } = await verify(
      '--token',
      TOKEN,
      '--only',
      'memory',
      'everything',
      'filesystem',
      'git',
      'no-verify',
    );
    assert.equal(code, 0, stderr);
    assert.equal(result.ok, true);
    assert.equal(result.gateway.status, 'pass');
    for (const s of result.servers) {
      assert.equal(s.toolsList.status, 'pass', `${s.id}: ${s.toolsList.detail}`);
      assert.equal(s.gateway.status, 'pass', `${s.id}: ${s.gateway.detail}`);
      assert.equal(
        s.agentCoreCall.status,
        s.id === 'no-verify' ? 'skip' : 'pass',
        `${s.id}: ${s.agentCoreCall.detail}`,
      );
      assert.ok((s.toolsList.ms ?? -1) >= 0);
    }
    const detail = (id: string): string =>
      result.servers.find((s) => s.id === id)?.agentCoreCall.detail ?? '';
    assert.match(detail('everything'), /Echo: verified/);
    assert.match(detail('filesystem'), /hello from the verify test/);
    assert.match(detail('git'), /On branch/);
  });

  test('an mcp target: its prompts and resources are checked at the gateway, and its verify call', async () => {
    const { code, result, stderr } = await verify('--token', TOKEN, '--only', 'everything-mcp', 'memory');
    assert.equal(code, 0, stderr);
    const mcp = result.servers.find((s) => s.id === 'everything-mcp');
    assert.equal(mcp?.gateway.status, 'pass', mcp?.gateway.detail);
    assert.match(mcp.gateway.detail, /^\d+ tools listed, \d+ prompts, \d+ resources; echo ok$/);
    assert.match(mcp.agentCoreCall.detail, /Echo: through its Function URL/);
    // A lambda target has neither: its gateway check is the tools and the call.
    assert.match(
      result.servers.find((s) => s.id === 'memory')?.gateway.detail ?? '',
      /^\d+ tools listed; read_graph ok$/,
    );
  });

  test('a failing verify call fails the run (exit 1) and says why', async () => {
    const { code, result } = await verify('--token', TOKEN, '--only', 'wrong', 'memory');
    assert.equal(code, 1);
    assert.equal(result.ok, false);
    const wrong = result.servers.find((s) => s.id === 'wrong');
    assert.equal(wrong?.toolsList.status, 'pass');
    assert.equal(wrong?.agentCoreCall.status, 'fail');
    assert.match(wrong?.agentCoreCall.detail ?? '', /ENOENT|no such file|not found/i);
    assert.equal(wrong?.gateway.status, 'fail');
    assert.equal(result.servers.find((s) => s.id === 'memory')?.gateway.status, 'pass');
  });

  test('without the token every check is refused, and says so', async () => {
    const { code, result } = await verify('--only', 'memory');
    assert.equal(code, 1);
    assert.equal(result.gateway.status, 'fail');
    assert.match(result.gateway.detail, /401|Unauthorized/i);
    assert.equal(result.servers[0]?.toolsList.status, 'fail');
    assert.match(result.servers[0]?.toolsList.detail ?? '', /HTTP 401/);
  });

  test('invoke and tools take the same token', async () => {
    const tools = await runCli(['tools', 'memory', '--endpoint', fleet.url, '--token', TOKEN, '--json']);
    assert.equal(tools.code, 0, tools.stderr);
    assert.ok((JSON.parse(tools.stdout) as Record<string, unknown[]>)['mcp-server-memory']?.length);
    const call = await runCli(['invoke', 'memory', 'read_graph', '--endpoint', fleet.url, '--token', TOKEN]);
    assert.equal(call.code, 0, call.stderr);
    const refused = await runCli(['invoke', 'memory', 'read_graph', '--endpoint', fleet.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the call \(401\): give the dev fleet's --token/);
  });

  test('--region: the gateway URL and a Cognito token come from the deployed stack', async () => {
    // moto stands in for CloudFormation and Cognito; a small token endpoint for Cognito's OAuth2
    // domain, which no local stand-in serves. The token it hands out is the dev fleet's.
    const moto = await startMoto();
    const aws = {
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    };
    const asked: { auth?: string; body?: string }[] = [];
    const oauth = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        asked.push({ ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), body });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ access_token: TOKEN, token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((resolve) => oauth.listen(0, '127.0.0.1', resolve));
    try {
      const cognito = new CognitoIdentityProviderClient(aws);
      const pool =
        (await cognito.send(new CreateUserPoolCommand({ PoolName: 'gateway' }))).UserPool?.Id ?? '';
      const client = (
        await cognito.send(
          new CreateUserPoolClientCommand({ UserPoolId: pool, ClientName: 'machine', GenerateSecret: true }),
        )
      ).UserPoolClient;
      const outputs = {
        GatewayUrl: `${fleet.url}/mcp`,
        GatewayUserPoolId: pool,
        GatewayClientId: client?.ClientId ?? '',
        GatewayTokenEndpoint: `http://127.0.0.1:${String((oauth.address() as AddressInfo).port)}/oauth2/token`,
        GatewayOAuthScope: 'verify-test/invoke',
      };
      await new CloudFormationClient(aws).send(
        new CreateStackCommand({
          StackName: 'VerifyTest',
          TemplateBody: JSON.stringify({
            Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
            Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
          }),
        }),
      );
      const r = await runCli(
        [
          'verify',
          '--config',
          configFile,
          '--endpoint',
          fleet.url,
          '--region',
          'us-east-1',
          '--only',
          'memory',
          '--json',
        ],
        {
          env: {
            ...process.env,
            AWS_ENDPOINT_URL_CLOUDFORMATION: moto.endpoint,
            AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: moto.endpoint,
            AWS_ACCESS_KEY_ID: 'x',
            AWS_SECRET_ACCESS_KEY: 'y',
          },
        },
      );
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const result = JSON.parse(r.stdout) as Verification & { gatewayUrl: string };
      assert.equal(result.gatewayUrl, outputs.GatewayUrl);
      assert.equal(result.servers[0]?.gateway.status, 'pass');
      // The client-credentials grant, with the client's id and secret and the gateway's scope.
      const basic = `Basic ${Buffer.from(`${outputs.GatewayClientId}:${client?.ClientSecret ?? ''}`).toString('base64')}`;
      assert.deepEqual(asked, [
        { auth: basic, body: 'grant_type=client_credentials&scope=verify-test%2Finvoke' },
      ]);
    } finally {
      oauth.close();
      await moto.stop();
    }
  });

  test('the table form', async () => {
    const r = await runCli([
      'verify',
      '--config',
      configFile,
      '--endpoint',
      fleet.url,
      '--token',
      TOKEN,
      '--only',
      'everything',
      'wrong',
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^everything +PASS +\d+ ms +PASS +\d+ ms +PASS +\d+ ms +\d+ tools; echo: Echo: verified/m,
    );
    assert.match(r.stdout, /^wrong +PASS .*FAIL/m);
    assert.match(r.stdout, /NOT verified: \d+ passed, 2 failed, 0 skipped/);
  });
});
