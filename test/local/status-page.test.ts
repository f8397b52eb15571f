import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { assertNoneLeft, BIN } from '../runtime/support.js';
import { rpc, testFleet, type TestFleetFiles } from './support.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'Chromium is not installed (Debian package chromium)' : false;

let files: TestFleetFiles;
let fleet: RunningFleet;
let browser: Browser | undefined;
/** Other local sites: pages served from another port (another origin) than the dev server. */
const sites: Server[] = [];

before(async () => {
  files = await testFleet();
  fleet = await startFleet(files.config, { port: 0, env: files.env });
});

after(async () => {
  await browser?.close();
  for (const s of sites) await new Promise((r) => s.close(r));
  await fleet.close();
  await assertNoneLeft(files.mark.value);
  await files.cleanup();
});

async function launch(): Promise<Browser> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A hostile name that resolves to this machine: what DNS rebinding achieves.
      '--host-resolver-rules=MAP rebind.test 127.0.0.1',
    ],
  });
  return browser;
}

/** A page on its own local port (another origin); `script` runs in it. */
async function site(html: string, host = '127.0.0.1'): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  sites.push(server);
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** A page that tries each fetch and records how it ended in window.results. */
const attacker = (
  target: string,
  token?: string,
): string => `<!doctype html><meta charset="utf-8"><title>another site</title>
<script>
  window.results = {};
  const target = ${JSON.stringify(target)};
  const auth = ${JSON.stringify(token === undefined ? {} : { Authorization: `Bearer ${token}` })};
  const call = (name) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { message: 'read by another site' } } });
  async function attempt(name, run) {
    try {
      const res = await run();
      results[name] = 'read ' + res.status + ': ' + (res.type === 'opaque' ? '(opaque)' : (await res.text()).slice(0, 200));
    } catch (err) {
      results[name] = 'failed: ' + err.message;
    }
  }
  (async () => {
    const json = { 'content-type': 'application/json', accept: 'application/json', ...auth };
    await attempt('gateway', () => fetch(target + '/mcp', { method: 'POST', headers: json, body: call('everything___echo') }));
    await attempt('server', () => fetch(target + '/servers/everything/mcp', { method: 'POST', headers: json, body: call('echo') }));
    await attempt('status', () => fetch(target + '/status', { headers: auth }));
    await attempt('simple', () => fetch(target + '/mcp', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: call('everything___echo') }));
    await attempt('invoke', () => fetch(target + '/2015-03-31/functions/mcp-server-memory/invocations', {
      method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ toolName: 'memory___create_entities', entities: [{ name: 'planted-by-a-page', entityType: 'x', observations: ['x'] }] }),
    }));
    window.done = true;
  })();
</script>`;

test(
  'the status page in headless Chromium shows each function’s state, calls and errors',
  { skip },
  async () => {
    for (let i = 0; i < 3; i++)
      await rpc(`${fleet.url}/mcp`, {
        id: i,
        method: 'tools/call',
        params: { name: 'everything___echo', arguments: { message: `m${i}` } },
      });
    await rpc(`${fleet.url}/mcp`, {
      id: 9,
      method: 'tools/call',
      params: { name: 'broken___echo', arguments: {} },
    });

    const page = await (await launch()).newPage();
    await page.goto(`${fleet.url}/`);
    await page.waitForSelector('tr[data-server="everything"]');

    const row = (id: string) => page.locator(`tr[data-server="${id}"]`);
    assert.equal(await page.locator('tbody tr').count(), 6);
    assert.equal(await row('everything').locator('[data-testid="state"]').textContent(), 'warm');
    const everything = await row('everything').locator('td').allTextContents();
    assert.equal(everything[0], 'everything');
    assert.ok(Number(everything[3]) >= 4, `calls: ${everything[3] ?? ''}`); // tools/list at start + 3 calls
    assert.equal(everything[4], '0');
    assert.match(everything[5] ?? '', /^\d+(\.\d+)?$/, 'p50 shown');
    assert.equal(await row('broken').locator('[data-testid="state"]').textContent(), 'failed');
    assert.match((await row('broken').locator('td.error').textContent()) ?? '', /exited with code 3/);
    assert.match((await row('memory').locator('summary').textContent()) ?? '', /^9 tools$/);
    assert.match((await page.locator('#gateway').textContent()) ?? '', /\/mcp$/);

    await page.screenshot({ path: path.join(files.dir, 'status.png') });
    assert.ok(existsSync(path.join(files.dir, 'status.png')));
  },
);

describe('the dev server in a real browser', () => {
  test(
    'a page of another local site cannot use the fleet: its fetch() calls fail, its no-cors Invoke is refused',
    { skip },
    async () => {
      const memory = fleet.lambda.resolve('mcp-server-memory');
      const callsBefore = memory.stats.calls;
      const origin = await site(attacker(fleet.url));
      const page = await (await launch()).newPage();
      const answered: string[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/invocations')) answered.push(String(r.status()));
      });
      page.on('requestfailed', (r) => {
        if (r.url().includes('/invocations')) answered.push(r.failure()?.errorText ?? 'failed');
      });
      await page.goto(`${origin}/`);
      await page.waitForFunction('window.done === true', undefined, { timeout: 30_000 });
      const results = await page.evaluate<Record<string, string>>('window.results');
      for (const name of ['gateway', 'server', 'status', 'simple'])
        assert.match(results[name] ?? '', /^failed: Failed to fetch/, `${name}: ${results[name] ?? ''}`);
      // A no-cors request is sent, its answer unreadable; the dev server refused it all the same.
      // Cross-Origin-Resource-Policy keeps even the opaque answer from the page.
      assert.match(results['invoke'] ?? '', /^failed: Failed to fetch|^read 0: \(opaque\)$/);
      // The browser sent it, and got an answer (the 403) that it kept from the page.
      assert.equal(answered.length, 1);
      assert.match(answered[0] ?? '', /^403$|ERR_BLOCKED_BY_RESPONSE/);
      assert.equal(memory.stats.calls, callsBefore, 'the function was never called');
      const { body } = await rpc(`${fleet.url}/mcp`, {
        id: 1,
        method: 'tools/call',
        params: { name: 'memory___read_graph', arguments: {} },
      });
      assert.doesNotMatch(JSON.stringify(body), /planted-by-a-page/);
      await page.close();
    },
  );

  test('DNS rebinding: the status page and /status under a hostile name are refused', { skip }, async () => {
    const port = new URL(fleet.url).port;
    const page = await (await launch()).newPage();
    const res = await page.goto(`http://rebind.test:${port}/status`);
    assert.equal(res?.status(), 403);
    assert.match(await page.content(), /Host \\"rebind\.test:\d+\\" is not a name of this dev server/);
    const root = await page.goto(`http://rebind.test:${port}/`);
    assert.equal(root?.status(), 403);
    await page.close();
  });
});

describe('a dev server with --token and --allowed-origin, in a real browser', () => {
  const TOKEN = 'browser-token-3c9d1f0a';
  let guarded: RunningFleet;
  let inspector: string;

  before(async () => {
    if (skip !== false) return;
    const dir = path.join(files.dir, 'guarded');
    await mkdir(dir, { recursive: true });
    const configFile = path.join(dir, 'servers.yaml');
    await writeFile(
      configFile,
      `stack: Guarded
gateway: { name: guarded }
defaults: { env: { MCP_FLEET_TEST_MARKER: "${files.mark.value}" } }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
`,
    );
    // The inspector's page is served before the fleet starts (its origin goes into the flag); it
    // names the fleet's URL when it is asked for, by then known.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(attacker(guarded.url, TOKEN));
    });
    await new Promise<void>((r) => server.listen(0, 'localhost', r));
    sites.push(server);
    inspector = `http://localhost:${(server.address() as AddressInfo).port}`;
    guarded = await startFleet(await loadConfigOrThrow(configFile), {
      port: 0,
      env: files.env,
      token: TOKEN,
      allowedOrigins: [inspector],
    });
  });

  after(async () => {
    await guarded?.close();
  });

  test(
    'the status page asks for the token, keeps it in the tab, and never puts it in a URL',
    { skip },
    async () => {
      const context = await (await launch()).newContext();
      const urls: string[] = [];
      const statusAuth: (string | undefined)[] = [];
      const violations: string[] = [];
      context.on('request', (r) => {
        urls.push(r.url());
        if (new URL(r.url()).pathname === '/status') statusAuth.push(r.headers()['authorization']);
      });
      const page = await context.newPage();
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
      });
      await page.goto(`${guarded.url}/`);
      await page.waitForSelector('#login:not([hidden])');
      assert.match((await page.locator('#login-why').textContent()) ?? '', /started with --token/);
      await page.fill('#token', 'not-the-token');
      await page.click('#login button');
      // A locator's wait, not waitForFunction: the page's CSP refuses the eval a string predicate needs.
      await page.locator('#login-why', { hasText: /refused/ }).waitFor();
      await page.fill('#token', TOKEN);
      await page.click('#login button');
      await page.waitForSelector('tr[data-server="everything"]');
      assert.equal(await page.locator('#login').isHidden(), true);
      // A reload keeps it (sessionStorage), without asking again.
      await page.reload();
      await page.waitForSelector('tr[data-server="everything"]');
      assert.equal(await page.locator('#login').isHidden(), true);
      assert.ok(statusAuth.includes(`Bearer ${TOKEN}`), 'the token went in Authorization');
      await context.close();

      // The fragment hand-over (/#token=…): the fragment never reaches the server, and is dropped.
      const second = await (await launch()).newContext();
      second.on('request', (r) => urls.push(r.url()));
      const page2 = await second.newPage();
      await page2.goto(`${guarded.url}/#token=${TOKEN}`);
      await page2.waitForSelector('tr[data-server="everything"]');
      assert.equal(new URL(page2.url()).hash, '', 'the token is taken out of the address bar');
      await second.close();

      for (const u of urls) assert.ok(!u.includes(TOKEN), `a URL with the token was requested: ${u}`);
      assert.deepEqual(violations, []);
    },
  );

  test(
    '--allowed-origin: that origin’s page can call the fleet (with the token); another port cannot',
    { skip },
    async () => {
      const context = await (await launch()).newContext();
      const allowed = await context.newPage();
      await allowed.goto(`${inspector}/`);
      await allowed.waitForFunction('window.done === true', undefined, { timeout: 30_000 });
      const ok = await allowed.evaluate<Record<string, string>>('window.results');
      assert.match(ok['gateway'] ?? '', /^read 200: .*Echo: read by another site/);
      assert.match(ok['server'] ?? '', /^read 200: .*Echo: read by another site/);
      assert.match(ok['status'] ?? '', /^read 200: \{"functions"/);
      const other = await context.newPage();
      await other.goto(`${await site(attacker(guarded.url, TOKEN))}/`);
      await other.waitForFunction('window.done === true', undefined, { timeout: 30_000 });
      const refused = await other.evaluate<Record<string, string>>('window.results');
      for (const name of ['gateway', 'server', 'status'])
        assert.match(refused[name] ?? '', /^failed: Failed to fetch/, `${name}: ${refused[name] ?? ''}`);
      await context.close();
    },
  );
});
