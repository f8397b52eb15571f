/**
 * The picture in docs/architecture.md: a real call through the default fleet (servers.yaml, as
 * `npm start` runs it), seen on the status page of `mcp-fleet dev` in headless Chromium.
 *
 *   npm run build && npx tsx scripts/waterfall-screenshot.ts [out.png]
 *
 * Starts `mcp-fleet dev --json` on a free port, calls filesystem___read_text_file twice at once
 * with an MCP SDK client, both in one trace (a W3C traceparent in the requests' _meta; one call
 * finds a warm environment, the other a cold start), and screenshots that trace's waterfall.
 * Needs Chromium (Debian package chromium).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs', 'images', 'waterfall.png'));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (CHROMIUM === undefined) throw new Error('Chromium is not installed (Debian package chromium)');

const dev = spawn(
  process.execPath,
  [path.join(ROOT, 'dist', 'cli', 'main.js'), 'dev', '--port', '0', '--json', '--no-watch'],
  {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
try {
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: dev.stdout });
    lines.on('line', (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === 'ready' && typeof event.url === 'string') resolve(event.url);
      } catch {
        // not a JSON line
      }
    });
    dev.once('exit', (code) => {
      reject(new Error(`mcp-fleet dev exited (${String(code)}) before it was ready`));
    });
  });
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const client = new Client({ name: 'waterfall-screenshot', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  // Two calls at once, in one trace (its context in each request's _meta): one finds the
  // environment dev listed the tools with, warm; the other starts a second one, cold.
  const file = path.join(ROOT, 'examples', 'sample', 'notes.txt');
  const results = await Promise.all(
    [0, 1].map(() =>
      client.callTool({
        name: 'filesystem___read_text_file',
        arguments: { path: file },
        _meta: { traceparent },
      }),
    ),
  );
  for (const r of results)
    if (r.isError === true) throw new Error(`the call failed: ${JSON.stringify(r.content)}`);
  await client.close();

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 2 });
    await page.goto(`${url}/`);
    const trace = page.locator(`details.trace[data-trace="${traceId}"]`);
    await trace.waitFor();
    if ((await trace.getAttribute('open')) === null) await trace.locator('summary').click();
    await trace.screenshot({ path: out });
    console.log(`wrote ${path.relative(ROOT, out)}`);
  } finally {
    await browser.close();
  }
} finally {
  dev.kill('SIGTERM');
  await new Promise((r) => dev.once('exit', r));
}
