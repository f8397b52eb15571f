import type { TraceContext } from '../../contract/trace.js';
import { answerOf, type MessageHandler } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';

/** Whether an event is a JSON-RPC message or a batch of them (a direct `Invoke`). */
export function isJsonRpcEvent(event: unknown): boolean {
  const looks = (m: unknown): boolean => isRequest(m) || isNotification(m);
  return Array.isArray(event) ? event.length > 0 && event.every(looks) : looks(event);
}

/**
 * The direct-invoke front: a JSON-RPC message as the event, its response as the result; a batch
 * gives an array of responses (none for notifications; null when there is nothing to answer).
 */
export async function jsonRpcFront(
  event: unknown,
  bridge: MessageHandler,
  deadline: number,
  trace?: TraceContext,
): Promise<JsonRpcResponse | JsonRpcResponse[] | null> {
  const ctx = trace === undefined ? { deadline } : { deadline, trace };
  if (Array.isArray(event)) {
    if (event.length === 0) return failure(null, { code: ErrorCode.InvalidRequest, message: 'empty batch' });
    const answers = await Promise.all(event.map(async (m) => answerOf(await bridge.handle(m, ctx))));
    const answered = answers.flatMap((a) => (a === undefined ? [] : [a.response]));
    return answered.length > 0 ? answered : null;
  }
  return answerOf(await bridge.handle(event, ctx))?.response ?? null;
}
