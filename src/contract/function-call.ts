/**
 * Calling a server's function and reading its answer, the one way every caller does it (the
 * local gateway, tool discovery, `verify`, `tools`, `invoke`, `dev`'s call log): the client
 * context AgentCore Gateway sends, Lambda's function errors, `isError` results, `tools/list`
 * paged through `nextCursor`, and Lambda's payload limit. No imports: usable from every layer.
 */
import { FLEET_ERROR, FleetError } from './errors.js';

/** Lambda's synchronous payload limit, request and response (6 MB). */
export const LAMBDA_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024;

/**
 * Lambda's limit on a streamed response (a Function URL in RESPONSE_STREAM mode, or
 * InvokeWithResponseStream): 200 MB, as AWS documents it since 2025 (it was a 20 MB soft limit).
 */
export const LAMBDA_STREAM_MAX_BYTES = 200 * 1024 * 1024;

/** How the limit is said wherever a payload is over it. */
export function payloadTooLargeMessage(what: 'request' | 'response', bytes: number): string {
  return `the ${what} is ${bytes} bytes, over Lambda's ${LAMBDA_PAYLOAD_MAX_BYTES}-byte (6 MB) ${what} limit`;
}

/**
 * The size of what a handler returns, as Lambda measures it (the serialized response: for an
 * HTTP event the whole response object, headers included), when it is over the limit.
 */
export function overResponseLimit(response: unknown): number | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(response ?? null));
  return bytes > LAMBDA_PAYLOAD_MAX_BYTES ? bytes : undefined;
}

/** What a function's `Invoke` gives back: the decoded payload, and Lambda's FunctionError if any. */
export interface InvokeAnswer {
  functionError?: string;
  payload: unknown;
}

/** Invokes one function with a JSON event (and a client context). */
export type Invoke = (event: unknown, clientContext?: unknown) => Promise<InvokeAnswer>;

/** What AgentCore Gateway says about a call in the client context (`custom`). */
export interface AgentCoreCall {
  /** `<target>___<tool>` */
  toolName: string;
  gatewayId?: string;
  targetId?: string;
  requestId?: string;
  messageId?: string;
}

/** The client context AgentCore Gateway sends with a Lambda target's tool call. */
export function agentCoreClientContext(call: AgentCoreCall): { custom: Record<string, string> } {
  return {
    custom: {
      bedrockAgentCoreToolName: call.toolName,
      bedrockAgentCoreMessageVersion: '1.0',
      ...(call.requestId !== undefined ? { bedrockAgentCoreAwsRequestId: call.requestId } : {}),
      ...(call.messageId !== undefined ? { bedrockAgentCoreMcpMessageId: call.messageId } : {}),
      ...(call.gatewayId !== undefined ? { bedrockAgentCoreGatewayId: call.gatewayId } : {}),
      ...(call.targetId !== undefined ? { bedrockAgentCoreTargetId: call.targetId } : {}),
    },
  };
}

/** The tool name in a client context, when AgentCore's. */
export function agentCoreToolName(clientContext: unknown): string | undefined {
  const custom = (clientContext as { custom?: { bedrockAgentCoreToolName?: unknown } } | undefined)?.custom;
  return typeof custom?.bedrockAgentCoreToolName === 'string' ? custom.bedrockAgentCoreToolName : undefined;
}

/** Lambda's error payload (`errorType`, `errorMessage`) in one line, when the payload is one. */
export function functionErrorMessage(payload: unknown): string | undefined {
  const p = payload as { errorMessage?: unknown; errorType?: unknown } | null;
  if (typeof p?.errorMessage === 'string') return p.errorMessage;
  if (typeof p?.errorType === 'string') return p.errorType;
  return undefined;
}

/** A function that failed (Lambda's FunctionError), with its message. */
export class FunctionCallError extends FleetError {
  constructor(
    readonly functionError: string,
    message: string,
  ) {
    super(FLEET_ERROR.functionError, message);
    this.name = 'FunctionCallError';
  }
}

/** Throws FunctionCallError when the answer is a function error; else gives the payload. */
export function payloadOf(answer: InvokeAnswer): unknown {
  if (answer.functionError !== undefined) {
    throw new FunctionCallError(
      answer.functionError,
      functionErrorMessage(answer.payload) ?? `function error (${answer.functionError})`,
    );
  }
  return answer.payload;
}

/** A tool call's result as an AgentCore Lambda target returns it. */
export interface ToolResult {
  content?: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
}

/** Whether a payload is a tool result with `isError: true`. */
export function isErrorResult(payload: unknown): boolean {
  return (payload as ToolResult | null)?.isError === true;
}

/**
 * What a function's answer says went wrong, if anything: an `isError` tool result, a JSON-RPC
 * error, or, in an HTTP answer (a web function's, a Function URL's), an error status or either
 * of those in its body (JSON or SSE). Undefined when it went right. A body is only parsed when it
 * names an error, so a good answer costs a substring search.
 */
export function answerError(payload: unknown): string | undefined {
  const p = payload as { isError?: unknown; error?: unknown; statusCode?: unknown; body?: unknown } | null;
  if (p === null || typeof p !== 'object') return undefined;
  if (p.isError === true) return resultText(p) || 'an isError result';
  if (p.error !== undefined) return rpcErrorMessage(p.error);
  if (typeof p.statusCode !== 'number') return undefined;
  const body = typeof p.body === 'string' ? p.body : '';
  const inBody =
    body.includes('"error"') || body.includes('"isError":true')
      ? messagesOf(body).map(messageError).find(Boolean)
      : undefined;
  if (inBody !== undefined) return inBody;
  return p.statusCode >= 400
    ? `HTTP ${p.statusCode}${body !== '' ? `: ${body.slice(0, 200)}` : ''}`
    : undefined;
}

/**
 * What went wrong in an invocation, if anything: its function error's message, or what its answer
 * says (see {@link answerError}), including the pieces of a streamed answer that named an error.
 */
export function invocationError(r: {
  functionError?: string;
  payload: unknown;
  streamed?: { flagged?: string };
}): string | undefined {
  if (r.functionError !== undefined)
    return functionErrorMessage(r.payload) ?? `function error (${r.functionError})`;
  const flagged = r.streamed?.flagged;
  return (
    answerError(r.payload) ??
    (flagged !== undefined ? answerError({ statusCode: 200, body: flagged }) : undefined)
  );
}

function rpcErrorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : JSON.stringify(error).slice(0, 500);
}

/** What a message reports as gone wrong: a JSON-RPC error, or a tool result with isError. */
function messageError(m: unknown): string | undefined {
  const r = m as { error?: unknown; result?: unknown } | null;
  if (r === null || typeof r !== 'object') return undefined;
  if (r.error !== undefined) return rpcErrorMessage(r.error);
  return isErrorResult(r.result) ? resultText(r.result) || 'an isError result' : undefined;
}

/** The JSON-RPC messages of an HTTP body: one JSON message or batch, or SSE events' data. */
function messagesOf(body: string): unknown[] {
  const parse = (text: string): unknown[] => {
    try {
      const v: unknown = JSON.parse(text);
      return Array.isArray(v) ? v : [v];
    } catch {
      return [];
    }
  };
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parse(trimmed);
  return body
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .flatMap((line) => parse(line.slice(5)));
}

/** The text parts of a tool result, joined. */
export function resultText(payload: unknown): string {
  return ((payload as ToolResult | null)?.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join(' ');
}

/** More pages than any server has: a server that keeps answering with a cursor is broken. */
const MAX_PAGES = 1000;

/**
 * Lists every tool of a function with JSON-RPC `tools/list` calls, following `nextCursor`.
 * Throws with the function's or the server's error message when it fails.
 */
export async function listTools(invoke: Invoke, idPrefix = 'list'): Promise<Record<string, unknown>[]> {
  const raw: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  let page = 0;
  do {
    const payload = payloadOf(
      await invoke({
        jsonrpc: '2.0',
        id: `${idPrefix}-${++page}`,
        method: 'tools/list',
        params: cursor === undefined ? {} : { cursor },
      }),
    ) as {
      result?: { tools?: unknown; nextCursor?: unknown };
      error?: { message?: unknown };
    } | null;
    if (payload?.error !== undefined) throw new Error(String(payload.error.message));
    const tools = payload?.result?.tools;
    if (!Array.isArray(tools)) throw new Error('tools/list answered without a "tools" list');
    raw.push(...(tools as Record<string, unknown>[]));
    cursor = typeof payload?.result?.nextCursor === 'string' ? payload.result.nextCursor : undefined;
    if (page >= MAX_PAGES) throw new Error(`tools/list kept returning a nextCursor after ${MAX_PAGES} pages`);
  } while (cursor !== undefined);
  return raw;
}
