/**
 * A response stream as the local Lambda service receives it: passed on piece by piece (Lambda's
 * streamed limit), or gathered for a buffered caller (Lambda's 6 MB limit).
 */
import { LAMBDA_PAYLOAD_MAX_BYTES, LAMBDA_STREAM_MAX_BYTES } from '../../contract/function-call.js';
import type { ChunkSink } from './environment.js';
import type { InvokeReply } from './worker-protocol.js';

/** How a streamed response went (set on the outcome of a function that streamed). */
export interface StreamedResponse {
  contentType: string;
  bytes: number;
  /** The whole response, when no `onChunk` took the pieces. */
  body?: Buffer;
  /**
   * When the pieces were passed on: those that name an error (a JSON-RPC `"error"`, an
   * `"isError":true` result), at most {@link FLAGGED_MAX} bytes, so that the call can be counted
   * as failed (see answerError).
   */
  flagged?: string;
}

/** Bytes of flagged pieces kept per response. */
const FLAGGED_MAX = 64 * 1024;
const ERROR_MARKS = ['"error"', '"isError":true'];

/**
 * A streamed response as it comes: passed on piece by piece (Lambda's streamed limit), or gathered
 * for a buffered caller (Lambda's 6 MB limit); over its limit, the rest is dropped and the
 * invocation fails with Function.ResponseSizeTooLarge.
 */
export class StreamState {
  contentType: string | undefined;
  bytes = 0;
  private readonly pieces: Buffer[] = [];
  private flagged = '';
  private over = false;

  constructor(private readonly onChunk: ChunkSink | undefined) {}

  get limit(): number {
    return this.onChunk === undefined ? LAMBDA_PAYLOAD_MAX_BYTES : LAMBDA_STREAM_MAX_BYTES;
  }

  readonly take = (data: Buffer, contentType: string): void => {
    this.contentType = contentType;
    if (this.over) return;
    this.bytes += data.length;
    if (this.bytes > this.limit) {
      this.over = true;
      this.pieces.length = 0;
      return;
    }
    if (this.onChunk === undefined) {
      this.pieces.push(data);
      return;
    }
    if (this.flagged.length < FLAGGED_MAX && ERROR_MARKS.some((mark) => data.includes(mark)))
      this.flagged += data.toString('utf8', 0, Math.min(data.length, FLAGGED_MAX - this.flagged.length));
    this.onChunk(data, contentType);
  };

  /** The reply, or Lambda's error when the stream went over its limit. */
  check(reply: InvokeReply): InvokeReply {
    if (!this.over || reply.type !== 'result') return reply;
    return {
      type: 'error',
      requestId: reply.requestId,
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage:
        this.onChunk === undefined
          ? `Response payload size exceeded maximum allowed payload size (${LAMBDA_PAYLOAD_MAX_BYTES} bytes).`
          : `Streamed response size exceeded maximum allowed size (${LAMBDA_STREAM_MAX_BYTES} bytes): the stream was cut after the first ${LAMBDA_STREAM_MAX_BYTES} bytes.`,
    };
  }

  outcome(reply: InvokeReply): StreamedResponse | undefined {
    const contentType = (reply.type === 'result' ? reply.stream?.contentType : undefined) ?? this.contentType;
    if (contentType === undefined) return undefined;
    const out: StreamedResponse = { contentType, bytes: this.bytes };
    if (this.onChunk === undefined && reply.type === 'result') out.body = Buffer.concat(this.pieces);
    if (this.flagged !== '') out.flagged = this.flagged;
    return out;
  }
}

/** A buffered streamed response as the Invoke API's payload: its JSON, else its text. */
export function bufferedPayload(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
