/**
 * The messages between the local Lambda service and an environment's worker process (over the
 * Node.js IPC channel): the shape of Lambda's Runtime API, reduced to what one process needs.
 */

/** One invocation for the handler. */
export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  event: unknown;
  /**
   * The event as JSON text instead, when the IPC channel's serializer cannot carry it (nested
   * deeper than its stack allows): Lambda hands the runtime bytes, which it parses.
   */
  eventJson?: string;
  clientContext?: unknown;
  /** Epoch ms when Lambda would stop this invocation. */
  deadline: number;
  /** The invocation's X-Ray trace header (Lambda's `_X_AMZN_TRACE_ID` while it runs). */
  traceId?: string;
}

/** Stop: close the server (gracefully), then exit. */
export interface ShutdownMessage {
  type: 'shutdown';
}

/**
 * Several messages sent in one turn of the sender's event loop, in order: one write on the
 * channel and one wake-up of the other process instead of one each, when calls come together.
 */
export interface Batch<M> {
  type: 'batch';
  messages: M[];
}

export type ServiceMessage = InvokeMessage | ShutdownMessage;

export type WorkerMessage =
  /** Init is over: the handler module is loaded (its server started, or still starting). */
  | { type: 'ready'; initMs: number; serverPid?: number; startError?: string }
  /** The handler module could not be loaded. */
  | { type: 'init-error'; errorType: string; errorMessage: string }
  | {
      type: 'result';
      requestId: string;
      payload: unknown;
      /**
       * The payload as JSON text instead, when it nests deeper than the channel's structured
       * clone safely takes (Lambda returns every payload as JSON).
       */
      payloadJson?: string;
      serverPid?: number;
      startError?: string;
      /** Set when the handler streamed its response (its chunks came before): the stream's content type. */
      stream?: { contentType: string };
      /** The stream's last piece, when it had not been sent as a chunk (a short answer's whole body). */
      data?: Uint8Array;
    }
  /**
   * A piece of a streamed response (a handler in response-streaming mode), as the handler wrote
   * it; the stream's content type comes with every piece.
   */
  | { type: 'chunk'; requestId: string; data: Uint8Array; contentType: string }
  | { type: 'error'; requestId: string; errorType: string; errorMessage: string; serverPid?: number };

/** The worker's answer to an invocation (after its chunks, when it streamed). */
export type InvokeReply = Extract<WorkerMessage, { type: 'result' | 'error' }>;
