/**
 * Behind a TLS-intercepting proxy whose CA only the system trusts, as in many companies: a PEP 503
 * index over HTTPS on 127.0.0.1, its certificate signed by a CA made here (openssl), holding one
 * small wheel downloaded from PyPI (six) and a wheel of this machine's uv binary. The CA goes into
 * the system's store only: in a mount namespace of their own (`unshare --mount`, as root), the
 * processes see it in place of the system's CA bundle (the file Python's OpenSSL and uv's platform
 * verifier read), with no SSL_CERT_FILE, SSL_CERT_DIR or pip setting naming it (uv reads those
 * two variables even without its system-certs setting, so they would not tell the two apart).
 *
 * Plain uv refuses the index (UnknownIssuer); mcp-fleet's build installs uv with pip and the
 * server with uv from it; UV_SYSTEM_CERTS=false turns that off. Slow: openssl, a download, pip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import semver from 'semver';
import { ensureUv, PIP_TRUSTSTORE_DEFAULT, UV_VERSION, uvTrustEnv } from '../../src/build/uv.js';
import { ROOT, tempDir } from '../helpers.js';

const run = promisify(execFile);
const SIX = { version: '1.17.0', file: 'six-1.17.0-py2.py3-none-any.whl' };
const STAGE = path.join(ROOT, 'test', 'fixtures', 'tls', 'stage-pypi.ts');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let cleanup: () => Promise<void>;
let server: Server | undefined;
let index: string;
/** The system's CA bundle, as OpenSSL names it (what the namespace replaces), and its stand-in. */
let systemBundle: string;
let standIn: string;
/** The environment of every process in the namespace: no certificate setting of any tool. */
let env: NodeJS.ProcessEnv;
let uv: string;
let pipVersion: string;

/** Why this machine cannot run the tests (they are skipped, saying so), or nothing. */
async function missing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (a mount namespace stands in for the system store)';
  for (const tool of ['unshare', 'openssl']) {
    const found = await run('sh', ['-c', `command -v ${tool}`]).then(
      () => true,
      () => false,
    );
    if (!found) return `needs ${tool}`;
  }
  return undefined;
}
const skip = await missing();

/** Runs a command where the system's CA bundle holds only the test CA. */
function inNamespace(
  command: string,
  args: readonly string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      'unshare',
      [
        '--mount',
        'sh',
        '-c',
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        'sh',
        standIn,
        systemBundle,
        command,
        ...args,
      ],
      { cwd: ROOT, env: { ...env, ...extra }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** six's wheel from PyPI (its simple API, PEP 691), checked against the hash PyPI gives. */
async function fetchSix(to: string): Promise<string> {
  const project = await fetch('https://pypi.org/simple/six/', {
    headers: { accept: 'application/vnd.pypi.simple.v1+json' },
  });
  const { files } = (await project.json()) as {
    files: { filename: string; url: string; hashes: { sha256: string } }[];
  };
  const wheel = files.find((f) => f.filename === SIX.file);
  assert.ok(wheel, `PyPI lists no ${SIX.file}`);
  const bytes = Buffer.from(await (await fetch(wheel.url)).arrayBuffer());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), wheel.hashes.sha256);
  await writeFile(path.join(to, SIX.file), bytes);
  return wheel.hashes.sha256;
}

/** A wheel of the uv binary this machine has (what `pip install uv==…` installs: bin/uv). */
async function uvWheel(binary: string, to: string): Promise<string> {
  const file = `uv-${UV_VERSION}-py3-none-any.whl`;
  const script = `
import base64, hashlib, sys, zipfile
binary, out, version = sys.argv[1:4]
name = 'uv-' + version
files = {
    name + '.data/scripts/uv': open(binary, 'rb').read(),
    name + '.dist-info/METADATA': ('Metadata-Version: 2.1\\nName: uv\\nVersion: ' + version + '\\n').encode(),
    name + '.dist-info/WHEEL': b'Wheel-Version: 1.0\\nGenerator: mcp-fleet-test\\nRoot-Is-Purelib: false\\nTag: py3-none-any\\n',
}
digest = lambda d: 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()
record = ''.join('%s,%s,%d\\n' % (n, digest(d), len(d)) for n, d in files.items()) + name + '.dist-info/RECORD,,\\n'
files[name + '.dist-info/RECORD'] = record.encode()
with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
    for n, d in files.items():
        info = zipfile.ZipInfo(n)
        info.external_attr = (0o100755 if n.endswith('/uv') else 0o100644) << 16
        z.writestr(info, d)
`;
  await run('python3', ['-c', script, binary, path.join(to, file), UV_VERSION]);
  return createHash('sha256')
    .update(await readFile(path.join(to, file)))
    .digest('hex');
}

before(async () => {
  if (skip !== undefined) return;
  ({ dir, cleanup } = await tempDir());

  // A CA, and the index's certificate for 127.0.0.1 signed by it.
  const ssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=mcp-fleet test proxy CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  await ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'index.key',
    '-out',
    'index.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  await writeFile(
    path.join(dir, 'index.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await ssl(
    'x509',
    '-req',
    '-in',
    'index.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'index.pem',
    '-days',
    '1',
    '-extfile',
    'index.ext',
  );

  // The index: six from PyPI, uv from this machine.
  const files = path.join(dir, 'files');
  await mkdir(files);
  uv = await ensureUv();
  if (uv === 'uv') uv = (await run('sh', ['-c', 'command -v uv'])).stdout.trim();
  const wheels: Record<string, { file: string; sha256: string }> = {
    six: { file: SIX.file, sha256: await fetchSix(files) },
    uv: { file: `uv-${UV_VERSION}-py3-none-any.whl`, sha256: await uvWheel(uv, files) },
  };
  server = createServer(
    {
      key: await readFile(path.join(dir, 'index.key')),
      cert: await readFile(path.join(dir, 'index.pem')),
    },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const project = /^\/simple\/([^/]+)\/?$/.exec(url.pathname)?.[1];
      const wheel = project !== undefined ? wheels[project] : undefined;
      if (wheel !== undefined) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(
          `<!DOCTYPE html><html><body><a href="/files/${wheel.file}#sha256=${wheel.sha256}">${wheel.file}</a></body></html>\n`,
        );
        return;
      }
      const file = /^\/files\/([^/]+\.whl)$/.exec(url.pathname)?.[1];
      if (file !== undefined && existsSync(path.join(files, file))) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        createReadStream(path.join(files, file)).pipe(res);
        return;
      }
      res.writeHead(404).end();
    },
  );
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  index = `https://127.0.0.1:${String(address.port)}/simple/`;

  // The system's CA bundle (Debian: /etc/ssl/certs/ca-certificates.crt), replaced in the
  // namespace by a bundle of the test CA alone.
  const paths = await run('python3', [
    '-c',
    'import ssl; print(ssl.get_default_verify_paths().openssl_cafile)',
  ]);
  systemBundle = await realpath(paths.stdout.trim());
  standIn = path.join(dir, 'ca.pem');

  // A new user's shell: a clean venv's python3 first on PATH, no uv, no certificate setting.
  const venv = path.join(dir, 'venv');
  await run('python3', ['-m', 'venv', venv]);
  pipVersion =
    (await run(path.join(venv, 'bin', 'python'), ['-m', 'pip', '--version'])).stdout.split(' ')[1] ?? '';
  await mkdir(path.join(dir, 'home'));
  env = {
    PATH: [path.join(venv, 'bin'), path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(
      ':',
    ),
    HOME: path.join(dir, 'home'),
    LANG: 'C.UTF-8',
    UV_CACHE_DIR: path.join(dir, 'uv-cache'),
    PIP_CONFIG_FILE: '/dev/null', // no pip.conf of this machine (it may name a CA bundle)
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
  };
  await assert.rejects(run('sh', ['-c', 'command -v uv'], { env }), 'uv is on the stand-in PATH');
});

after(async () => {
  if (server !== undefined) {
    const listening = server;
    await new Promise((resolve) => listening.close(resolve));
  }
  await cleanup?.();
});

describe('installs trust the system certificate store', () => {
  test(
    "plain uv refuses the index (UnknownIssuer); with mcp-fleet's settings it resolves from it",
    { skip },
    async () => {
      await writeFile(path.join(dir, 'requirements.in'), `six==${SIX.version}\n`);
      const args = ['pip', 'compile', path.join(dir, 'requirements.in'), '--index-url', index, '--quiet'];
      const plain = await inNamespace(uv, args);
      assert.notEqual(plain.code, 0, plain.stdout);
      assert.match(plain.stderr, /invalid peer certificate: UnknownIssuer/);
      const ours = await inNamespace(uv, args, uvTrustEnv({}));
      assert.equal(ours.code, 0, ours.stderr);
      assert.match(ours.stdout, new RegExp(`^six==${SIX.version.replace(/\./g, '\\.')}$`, 'm'));
    },
  );

  test(
    'pip on its own: refuses before 24.2, trusts the system store from 24.2 (truststore)',
    { skip },
    async (t) => {
      const args = ['-m', 'pip', 'download', '--no-deps', '--retries', '0', '--index-url', index];
      const r = await inNamespace('python3', [...args, '-d', path.join(dir, 'dl'), `six==${SIX.version}`]);
      t.diagnostic(`pip ${pipVersion}`);
      if (semver.lt(semver.coerce(pipVersion) ?? '0.0.0', PIP_TRUSTSTORE_DEFAULT)) {
        assert.notEqual(r.code, 0);
        assert.match(r.stdout + r.stderr, /CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
      } else assert.equal(r.code, 0, r.stderr);
    },
  );

  test(
    "mcp-fleet's build: uv installed with pip, then the server with uv, from the index",
    { skip },
    async () => {
      const build = path.join(dir, 'build-1');
      const r = await inNamespace(process.execPath, ['--import', 'tsx', STAGE, build], {
        MCP_FLEET_TOOLS_DIR: path.join(dir, 'tools-1'),
        PIP_INDEX_URL: index,
        UV_INDEX_URL: index,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`installing uv ${UV_VERSION.replace(/\./g, '\\.')}`),
        'uv was installed',
      );
      assert.ok(existsSync(path.join(dir, 'tools-1', `uv-${UV_VERSION}`, 'uv')));
      assert.deepEqual(JSON.parse(r.stdout), [`six==${SIX.version}`]);
      const lib = path.join(build, 'host', 'venv', 'lib');
      const [python] = await readdir(lib);
      assert.ok(existsSync(path.join(lib, python ?? '', 'site-packages', 'six.py')), 'six is installed');
      const log = await readFile(path.join(build, 'build.log'), 'utf8');
      assert.deepEqual(
        [...log.matchAll(/^\$ \S*\/uv (\S+ \S+)/gm)].map((m) => m[1]),
        ['pip compile', 'venv --python', 'pip install'],
      );
    },
  );

  test(
    'UV_SYSTEM_CERTS=false turns it off: the same build is refused (UnknownIssuer)',
    { skip },
    async () => {
      // uv is installed by now (the test before): this build goes straight to uv.
      const r = await inNamespace(process.execPath, ['--import', 'tsx', STAGE, path.join(dir, 'build-2')], {
        MCP_FLEET_TOOLS_DIR: path.join(dir, 'tools-1'),
        PIP_INDEX_URL: index,
        UV_INDEX_URL: index,
        UV_SYSTEM_CERTS: 'false',
      });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /uv pip compile six==1\.17\.0 failed/);
      assert.match(r.stderr, /UnknownIssuer/);
    },
  );
});
