/**
 * Lambda's streamed HTTP integration response, as a Function URL (or a web function's
 * invocation) sends it: a JSON prelude (status, headers), eight NUL bytes, then the body.
 */
import assert from 'node:assert/strict';

/** Splits a streamed HTTP answer into its prelude (status, headers) and body; fails without a prelude. */
export function splitIntegration(bytes: Buffer): {
  prelude: { statusCode: number; headers: Record<string, string> };
  body: string;
} {
  const at = bytes.indexOf(Buffer.alloc(8));
  assert.ok(at > 0, `no prelude delimiter in: ${bytes.toString('utf8').slice(0, 300)}`);
  return {
    prelude: JSON.parse(bytes.subarray(0, at).toString('utf8')) as {
      statusCode: number;
      headers: Record<string, string>;
    },
    body: bytes.subarray(at + 8).toString('utf8'),
  };
}
