/**
 * What the web-function tests share: MCP POSTs as a client sends them (JSON or SSE answers), and
 * a small stdio server that records what the runtime sends it (written into a test's folder).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Posted {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON-RPC messages of the answer: the JSON body, or each SSE event's data. */
  messages: Record<string, unknown>[];
}

/** The data of each SSE event of a body. */
export function sseMessages(text: string): Record<string, unknown>[] {
  return text
    .split('\n\n')
    .map((event) =>
      event
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

/** POSTs a JSON-RPC message (or any body) to an MCP endpoint. */
export async function post(
  url: string,
  body: unknown,
  opts: { headers?: Record<string, string>; signal?: AbortSignal; sse?: boolean; method?: string } = {},
): Promise<Posted> {
  const res = await fetch(url, {
    method: opts.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      accept: opts.sse === true ? 'application/json, text/event-stream' : 'application/json',
      ...opts.headers,
    },
    ...(opts.method === 'GET' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const messages = type.startsWith('text/event-stream')
    ? sseMessages(text)
    : text === ''
      ? []
      : [JSON.parse(text) as Record<string, unknown>];
  return { status: res.status, headers: res.headers, text, messages };
}

/** A tools/call request. */
export function toolCall(
  id: string | number,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
  };
}

/** The text of a tools/call answer (its last message's result), or its error's message. */
export function answerText(posted: Posted): string {
  const last = posted.messages.at(-1) as
    { result?: { content?: { text?: string }[] }; error?: { message: string } } | undefined;
  if (last?.error) return `error: ${last.error.message}`;
  return (last?.result?.content ?? []).map((c) => c.text ?? '').join('');
}

/**
 * A stdio MCP server that records what it is sent, on stderr: `got <tool> <text>` for each call,
 * `cancelled requestId=<id> reason=<reason>` for each notifications/cancelled. Tools: `echo`
 * (answers `<pid>:<text>:<most calls it ever ran at once>`), `work` (the same after `ms`), `wait`
 * (the same once the file `gate` exists), `block` (never answers). With SERIAL=1 it refuses a
 * call while another runs (a server that cannot take two at once).
 */
const RECORDER = `
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const serial = process.env.SERIAL === '1';
let active = 0;
let most = 0;
const TOOLS = ['echo', 'work', 'wait', 'block'].map((name) => ({ name, inputSchema: { type: 'object' } }));
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line.trim() === '') return;
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    return send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'recorder', version: '1.0.0' } } });
  if (m.method === 'notifications/cancelled')
    return process.stderr.write('cancelled requestId=' + m.params.requestId + ' reason=' + m.params.reason + '\\n');
  if (m.method === 'tools/list') return send({ id: m.id, result: { tools: TOOLS } });
  if (m.method !== 'tools/call') {
    if (m.id !== undefined) send({ id: m.id, error: { code: -32601, message: 'Method not found: ' + m.method } });
    return;
  }
  const { name, arguments: a = {} } = m.params;
  process.stderr.write('got ' + name + ' ' + (a.text ?? '') + '\\n');
  if (serial && active > 0)
    return send({ id: m.id, error: { code: -32000, message: 'overlap: ' + active + ' call(s) already running' } });
  active += 1;
  most = Math.max(most, active);
  if (name === 'block') return;
  if (name === 'work') await sleep(Number(a.ms ?? 50));
  if (name === 'wait') while (!existsSync(a.gate)) await sleep(10);
  active -= 1;
  send({ id: m.id, result: { content: [{ type: 'text', text: process.pid + ':' + a.text + ':' + most }] } });
});
`;

/** Writes the recording server into `dir`; answers its path. */
export async function writeRecorder(dir: string): Promise<string> {
  const file = path.join(dir, 'recorder-server.mjs');
  await writeFile(file, RECORDER);
  return file;
}
