import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHandler } from '../../src/runtime/index.js';
import { startMoto } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, lambdaContext, marker, RecordingLog, text } from './support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

let moto: Awaited<ReturnType<typeof startMoto>> | undefined;
const saved = { ...process.env };

before(async () => {
  // moto's server: SSM Parameter Store and Secrets Manager on loopback.
  moto = await startMoto();
  const endpoint = moto.endpoint;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIAFLEETTEST',
    AWS_SECRET_ACCESS_KEY: 'fleet-secret',
    AWS_SESSION_TOKEN: 'fleet-session',
    AWS_REGION: 'eu-west-1',
  });
  const ssm = new SSMClient({});
  await ssm.send(
    new PutParameterCommand({ Name: '/mcp/test/token', Value: 'from-ssm', Type: 'SecureString' }),
  );
  const sm = new SecretsManagerClient({});
  await sm.send(
    new CreateSecretCommand({
      Name: 'mcp/json',
      SecretString: JSON.stringify({ token: 'from-json', other: 1 }),
    }),
  );
  await sm.send(new CreateSecretCommand({ Name: 'mcp/plain', SecretString: 'from-plain' }));
});

after(async () => {
  await moto?.stop();
  for (const k of Object.keys(process.env)) if (!(k in saved)) Reflect.deleteProperty(process.env, k);
});

async function envOf(
  names: string[],
  secrets: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Promise<Record<string, string | null>> {
  const mark = marker();
  const handler = createHandler(
    {
      id: 'envtest',
      command: process.execPath,
      args: [FAULT_SERVER],
      env: { ...mark.env, ...env },
      secrets: secrets as never,
    },
    { log: new RecordingLog() },
  );
  const result = await handler({ text: names.join(',') }, lambdaContext({ toolName: 'envtest___env' }));
  await handler.close();
  await assertNoneLeft(mark.value);
  const t = text(result);
  try {
    return JSON.parse(t) as Record<string, string | null>;
  } catch {
    throw new Error(t);
  }
}

describe('the server environment', () => {
  test("the execution role's credentials and region reach the server", async () => {
    const env = await envOf([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_REGION',
    ]);
    assert.deepEqual(env, {
      AWS_ACCESS_KEY_ID: 'AKIAFLEETTEST',
      AWS_SECRET_ACCESS_KEY: 'fleet-secret',
      AWS_SESSION_TOKEN: 'fleet-session',
      AWS_REGION: 'eu-west-1',
    });
  });

  test('HOME and cache folders point at writable places under the temporary directory, unless configured', async () => {
    const env = await envOf(['HOME', 'XDG_CACHE_HOME', 'npm_config_cache', 'UV_CACHE_DIR', 'TMPDIR']);
    const root = path.join(os.tmpdir(), 'mcp-fleet', 'envtest');
    assert.equal(env['HOME'], path.join(root, 'home'));
    assert.equal(env['XDG_CACHE_HOME'], path.join(root, 'cache'));
    assert.equal(env['npm_config_cache'], path.join(root, 'cache', 'npm'));
    assert.equal(env['UV_CACHE_DIR'], path.join(root, 'cache', 'uv'));
    assert.equal(env['TMPDIR'], os.tmpdir());
    const configured = await envOf(['HOME'], {}, { HOME: '/srv/home' });
    assert.equal(configured['HOME'], '/srv/home');
  });

  test("the function's own variables do not leak into the server", async () => {
    process.env['SOME_FUNCTION_SETTING'] = 'private';
    const env = await envOf(['SOME_FUNCTION_SETTING', 'PATH']);
    delete process.env['SOME_FUNCTION_SETTING'];
    assert.equal(env['SOME_FUNCTION_SETTING'], null);
    assert.equal(env['PATH'], process.env['PATH']);
  });
});

describe('secrets', () => {
  test('SSM parameters and Secrets Manager secrets (whole, or a JSON key) become environment variables', async () => {
    const env = await envOf(['TOKEN_SSM', 'TOKEN_JSON', 'TOKEN_PLAIN'], {
      TOKEN_SSM: { source: 'ssm', parameter: '/mcp/test/token' },
      TOKEN_JSON: { source: 'secretsManager', secret: 'mcp/json', key: 'token' },
      TOKEN_PLAIN: { source: 'secretsManager', secret: 'mcp/plain' },
    });
    assert.deepEqual(env, { TOKEN_SSM: 'from-ssm', TOKEN_JSON: 'from-json', TOKEN_PLAIN: 'from-plain' });
  });

  test('a secret that cannot be read is a clear error, and nothing is started', async () => {
    const mark = marker();
    const handler = createHandler(
      {
        id: 'envtest',
        command: process.execPath,
        args: [FAULT_SERVER],
        env: mark.env,
        secrets: { TOKEN: { source: 'ssm', parameter: '/mcp/missing' } },
      },
      { log: new RecordingLog() },
    );
    const result = (await handler({ text: 'TOKEN' }, lambdaContext({ toolName: 'envtest___env' }))) as Record<
      string,
      unknown
    >;
    assert.equal(result['isError'], true);
    assert.match(text(result), /^secret TOKEN: cannot read SSM parameter \/mcp\/missing: /);
    const json = (await handler({ text: 'TOKEN' }, lambdaContext({ toolName: 'envtest___env' }))) as Record<
      string,
      unknown
    >;
    assert.equal(json['isError'], true, 'tried again, still failing');
    await handler.close();
    await assertNoneLeft(mark.value);
  });

  test('a JSON key that is not there is named', async () => {
    await assert.rejects(
      envOf(['T'], { T: { source: 'secretsManager', secret: 'mcp/json', key: 'nope' } }),
      /secret T: mcp\/json has no key "nope"/,
    );
  });
});
