import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startFleet, type RunningFleet } from '../../src/local/fleet.js';
import { assertNoneLeft } from '../runtime/support.js';
import { rpc, testFleet, type TestFleetFiles } from './support.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

let files: TestFleetFiles;
let fleet: RunningFleet;
let browser: Browser | undefined;

before(async () => {
  files = await testFleet();
  fleet = await startFleet(files.config, { port: 0, env: files.env });
});

after(async () => {
  await browser?.close();
  await fleet.close();
  await assertNoneLeft(files.mark.value);
  await files.cleanup();
});

test(
  'the status page in headless Chromium shows each function’s state, calls and errors',
  { skip: CHROMIUM === undefined ? 'Chromium is not installed (Debian package chromium)' : false },
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

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
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
