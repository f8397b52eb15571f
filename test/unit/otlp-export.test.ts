// LocalTracing's OTLP export against real HTTP collectors on loopback: a failing export is told
// once and its recovery once, and shutdown neither hangs on a collector that never answers nor
// fails on one that is down.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { LocalTracing, TRACING_SHUTDOWN_MS } from '../../src/local/lambda/tracing.js';

/** A collector answering each export with the status `answer` gives (undefined: never answers). */
async function collector(
  answer: (n: number) => number | undefined,
): Promise<{ url: string; server: Server }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = answer(n++);
      if (status === undefined) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, server };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

describe('OTLP export', () => {
  test('a failing export is told once (not per batch), its recovery once', async () => {
    // 400 (not retried by the exporter) for the first two exports, then 200.
    const { url, server } = await collector((n) => (n < 2 ? 400 : 200));
    const told: [boolean, string][] = [];
    const tracing = new LocalTracing({ otlp: url, onExport: (ok, message) => told.push([ok, message]) });
    try {
      for (let i = 0; i < 4; i++) {
        tracing.start(`call ${i}`).end();
        await tracing.flush().catch(() => undefined); // a failed export rejects the flush; told to onExport
      }
      assert.equal(told.length, 2, JSON.stringify(told));
      assert.equal(told[0]?.[0], false);
      assert.match(
        told[0]?.[1] ?? '',
        new RegExp(`^OTLP export to ${url} failed \\(.+\\); spans are dropped until it answers$`),
      );
      assert.deepEqual(told[1], [true, `OTLP export to ${url} works again`]);
    } finally {
      await tracing.shutdown();
      await close(server);
    }
  });

  test('shutdown with a collector that never answers: it ends, saying the last spans did not arrive', async () => {
    const { url, server } = await collector(() => undefined);
    const told: [boolean, string][] = [];
    const tracing = new LocalTracing({ otlp: url, onExport: (ok, message) => told.push([ok, message]) });
    try {
      tracing.start('last call').end();
      await tracing.shutdown();
      assert.deepEqual(told.at(-1), [
        false,
        `the last spans did not reach the collector within ${TRACING_SHUTDOWN_MS} ms`,
      ]);
    } finally {
      await close(server);
    }
  });

  test('shutdown with a collector that is down: it ends without an error, the failure told', async () => {
    const { url, server } = await collector(() => 200);
    await close(server);
    const told: [boolean, string][] = [];
    const tracing = new LocalTracing({ otlp: url, onExport: (ok, message) => told.push([ok, message]) });
    tracing.start('last call').end();
    await tracing.shutdown();
    assert.ok(
      told.some(([ok, message]) => !ok && /ECONNREFUSED|did not reach the collector/.test(message)),
      JSON.stringify(told),
    );
  });
});
