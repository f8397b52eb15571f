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
  await sm.send(new CreateSecretCommand({ Name: 'mcp/quoted', SecretString: QUOTED }));
});

/** A secret with characters JSON escapes: it must be caught inside serialized JSON too. */
const QUOTED = 'pa"ss\\word-7f3a';

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
    // The server has each value (the tool printed it); the answer has it replaced, by name: only
    // the exact value is redacted, so this proves both.
    assert.deepEqual(env, {
      TOKEN_SSM: '[redacted TOKEN_SSM]',
      TOKEN_JSON: '[redacted TOKEN_JSON]',
      TOKEN_PLAIN: '[redacted TOKEN_PLAIN]',
    });
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

describe('secret values in output', () => {
  const secrets = {
    TOKEN_SSM: { source: 'ssm', parameter: '/mcp/test/token' },
    TOKEN_QUOTED: { source: 'secretsManager', secret: 'mcp/quoted' },
  } as const;
  /** Every place a value could show up, serialized. */
  const leaks = (...outputs: unknown[]): string[] => {
    const all = JSON.stringify(outputs);
    return ['from-ssm', QUOTED, JSON.stringify(QUOTED).slice(1, -1)].filter((v) => all.includes(v));
  };

  test('a server that prints its secrets: answers, HTTP bodies, logs, crash messages and thrown errors carry the name, never the value', async () => {
    const mark = marker();
    const log = new RecordingLog();
    const launch = {
      id: 'leaky',
      // A real shell: the server's start-up line prints the secret to stderr.
      command: `echo "starting with token $TOKEN_SSM and $TOKEN_QUOTED" >&2; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(FAULT_SERVER)}`,
      shell: true,
      env: mark.env,
      secrets: secrets as never,
    };
    const handler = createHandler(launch, { log });
    const env = await handler({ text: 'TOKEN_SSM,TOKEN_QUOTED' }, lambdaContext({ toolName: 'leaky___env' }));
    assert.deepEqual(JSON.parse(text(env)), {
      TOKEN_SSM: '[redacted TOKEN_SSM]',
      TOKEN_QUOTED: '[redacted TOKEN_QUOTED]',
    });
    // The HTTP front's body is JSON text: the value is there JSON-escaped, and caught as such.
    const http = (await handler(
      {
        version: '2.0',
        rawPath: '/mcp',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        requestContext: {
          domainName: 'x.lambda-url.us-east-1.on.aws',
          http: { method: 'POST', path: '/mcp' },
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'env', arguments: { text: 'TOKEN_QUOTED' } },
        }),
      },
      lambdaContext(),
    )) as { body: string };
    assert.match(http.body, /\[redacted TOKEN_QUOTED\]/);
    // A crash: the error message carries the server's last stderr, with its start-up line.
    const crash = await handler({}, lambdaContext({ toolName: 'leaky___crash' }));
    assert.match(text(crash), /starting with token \[redacted TOKEN_SSM\] and \[redacted TOKEN_QUOTED\]/);
    assert.ok(
      log.messages().some((m) => /starting with token \[redacted TOKEN_SSM\]/.test(m)),
      'the stderr line is logged, redacted',
    );
    assert.deepEqual(leaks(env, http, crash, log.entries), []);
    await handler.close();

    // throwOnError: the Lambda function error's message.
    const throwing = createHandler(launch, { log, throwOnError: true });
    await throwing({}, lambdaContext({ toolName: 'leaky___echo' }));
    const thrown = await throwing({}, lambdaContext({ toolName: 'leaky___crash' })).then(
      () => assert.fail('a crash is thrown with throwOnError'),
      (err: unknown) => err as Error,
    );
    assert.match(thrown.message, /\[redacted TOKEN_SSM\]/);
    assert.deepEqual(leaks(thrown.message, thrown.stack, log.entries), []);
    await throwing.close();
    await assertNoneLeft(mark.value);
  });

  test('a server that fails at start with its secret in the message: the start error is redacted', async () => {
    const mark = marker();
    const log = new RecordingLog();
    const handler = createHandler(
      {
        id: 'broken',
        command: 'echo "fatal: login refused for token $TOKEN_SSM" >&2; exit 3',
        shell: true,
        env: mark.env,
        secrets: secrets,
      },
      { log },
    );
    await handler.ready;
    assert.match(handler.startError ?? '', /login refused for token \[redacted TOKEN_SSM\]/);
    const result = await handler({}, lambdaContext({ toolName: 'broken___echo' }));
    assert.match(text(result), /\[redacted TOKEN_SSM\]/);
    assert.deepEqual(leaks(handler.startError, result, log.entries), []);
    await handler.close();
    await assertNoneLeft(mark.value);
  });
});
