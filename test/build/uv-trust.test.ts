/**
 * Every uv process mcp-fleet starts trusts the system's certificate store (UV_SYSTEM_CERTS), and the
 * pip that installs uv does too; a user's own setting wins. In process: the environments and
 * arguments the installers are given, no process started (test/build/uv-trust-tls.test.ts starts
 * uv and pip against an HTTPS index whose CA only the system trusts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { toolsUvEnv } from '../../scripts/python-tools.js';
import { pythonDockerfile, uvInstaller } from '../../src/build/stage/pypi.js';
import { pipTrustEnv, systemCertsWanted, uvTrustEnv, type PipCertificates } from '../../src/build/uv.js';
import { parseConfig } from '../../src/config/load.js';

describe('uv: the system trust store', () => {
  test('on by default; a user setting of UV_SYSTEM_CERTS or the deprecated UV_NATIVE_TLS is kept', () => {
    assert.deepEqual(uvTrustEnv({}), { UV_SYSTEM_CERTS: 'true' });
    assert.deepEqual(uvTrustEnv({ UV_SYSTEM_CERTS: '' }), { UV_SYSTEM_CERTS: 'true' });
    for (const env of [{ UV_SYSTEM_CERTS: 'false' }, { UV_SYSTEM_CERTS: '1' }, { UV_NATIVE_TLS: '0' }])
      assert.deepEqual(uvTrustEnv(env), {}, JSON.stringify(env));
  });

  test('turned off by a false value, as uv reads it', () => {
    assert.equal(systemCertsWanted({}), true);
    for (const value of ['false', 'FALSE', '0', 'no', 'off', 'n', 'f'])
      assert.equal(systemCertsWanted({ UV_SYSTEM_CERTS: value }), false, value);
    for (const value of ['true', '1', 'yes', 'on'])
      assert.equal(systemCertsWanted({ UV_SYSTEM_CERTS: value }), true, value);
    assert.equal(systemCertsWanted({ UV_NATIVE_TLS: 'false' }), false);
    // The current name wins over the deprecated one.
    assert.equal(systemCertsWanted({ UV_SYSTEM_CERTS: 'true', UV_NATIVE_TLS: 'false' }), true);
  });

  test("the build's uv commands (compile, venv, install) each run with it", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-uv-trust-'));
    try {
      const { config } = parseConfig(
        'servers:\n  git:\n    package: { pypi: mcp-server-git==2026.10.19 }\n    command: mcp-server-git\n',
      );
      const server = config?.servers[0];
      assert.ok(server);
      for (const [env, expected] of [
        [{}, 'true'],
        [{ UV_SYSTEM_CERTS: 'false' }, undefined],
      ] as const) {
        const calls: { command: string; args: readonly string[]; env: Record<string, string> }[] = [];
        const install = uvInstaller({ uv: () => Promise.resolve('/opt/uv/uv'), env });
        await install({
          server,
          spec: 'mcp-server-git==2026.10.19',
          python: { exe: '/usr/bin/python3.11', version: '3.11' },
          dir,
          constraints: [],
          exec: async (command, args, _what, callEnv = {}) => {
            calls.push({ command, args, env: callEnv });
            if (args[1] === 'compile') await writeFile(path.join(dir, 'requirements.txt'), 'six==1.17.0\n');
            return '';
          },
          onLine: () => undefined,
        });
        assert.deepEqual(
          calls.map((c) => c.args.slice(0, 2).join(' ')),
          ['pip compile', 'venv --python', 'pip install'],
        );
        for (const c of calls) {
          assert.equal(c.command, '/opt/uv/uv');
          // runInstaller puts these on top of this process's environment: a user's `false` stays.
          assert.equal(c.env['UV_SYSTEM_CERTS'], expected, `${c.args.join(' ')} with ${JSON.stringify(env)}`);
          assert.equal(c.env['UV_PYTHON_DOWNLOADS'], 'never');
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the test tools' uv (npm run python-tools) runs with it", () => {
    assert.equal(toolsUvEnv({ PATH: '/bin' })['UV_SYSTEM_CERTS'], 'true');
    assert.equal(toolsUvEnv({ PATH: '/bin' })['PATH'], '/bin');
    assert.equal(toolsUvEnv({ UV_SYSTEM_CERTS: 'off' })['UV_SYSTEM_CERTS'], 'off');
  });

  test("the image's uv runs with it (the generated Dockerfile's ENV)", () => {
    const { config } = parseConfig(
      'servers:\n  git:\n    package: { pypi: mcp-server-git==2026.10.19 }\n    command: mcp-server-git\n',
    );
    const server = config?.servers[0];
    assert.ok(server);
    const dockerfile = pythonDockerfile({ server, spec: 'mcp-server-git==2026.10.19', python: '3.11' });
    const env = /^ENV (UV_.*)$/m.exec(dockerfile)?.[1] ?? '';
    assert.match(env, /(^| )UV_SYSTEM_CERTS=true( |$)/);
    // Set before the RUN that installs.
    assert.ok(dockerfile.indexOf('UV_SYSTEM_CERTS') < dockerfile.indexOf('uv pip install'));
  });
});

describe('pip (it installs uv): the system trust store', () => {
  const debian: PipCertificates = {
    pip: '23.2.1',
    cafile: '/usr/lib/ssl/cert.pem',
    capath: '/usr/lib/ssl/certs',
    configured: false,
  };

  test("a pip before 24.2 (Python 3.11's ensurepip has 23.2.1) is given Python's OpenSSL store", () => {
    assert.deepEqual(pipTrustEnv(debian, {}), { PIP_CERT: '/usr/lib/ssl/cert.pem' });
    assert.deepEqual(pipTrustEnv({ ...debian, cafile: null }, {}), { PIP_CERT: '/usr/lib/ssl/certs' });
    assert.deepEqual(pipTrustEnv({ ...debian, cafile: null, capath: null }, {}), {});
  });

  test('pip 24.2 and later use the system store themselves (truststore): nothing is added', () => {
    for (const pip of ['24.2', '24.3.1', '25.1'])
      assert.deepEqual(pipTrustEnv({ ...debian, pip }, {}), {}, pip);
    assert.deepEqual(pipTrustEnv({ ...debian, pip: '24.1.2' }, {}), { PIP_CERT: '/usr/lib/ssl/cert.pem' });
  });

  test("the user's own certificates for pip, or UV_SYSTEM_CERTS=false, leave pip as it is", () => {
    for (const env of [
      { PIP_CERT: '/corp.pem' },
      { REQUESTS_CA_BUNDLE: '/corp.pem' },
      { CURL_CA_BUNDLE: '/corp.pem' },
      { UV_SYSTEM_CERTS: 'false' },
    ])
      assert.deepEqual(pipTrustEnv(debian, env), {}, JSON.stringify(env));
    assert.deepEqual(pipTrustEnv({ ...debian, configured: true }, {}), {});
  });
});
