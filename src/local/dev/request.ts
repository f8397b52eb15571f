/**
 * The dev server's edge: a Node request becomes a {@link DevRequest} once, and every route reads
 * that (its URL, its headers with lower-case names, its body at most once and within the limit).
 */
import type { IncomingMessage } from 'node:http';
import { urlRequest, type UrlRequest } from '../lambda/function-url.js';

export interface DevRequest extends UrlRequest {
  /**
   * The body, read the first time it is asked for; undefined when it is over the limit (the
   * route answers 413). Rejects when the client goes away before sending it all.
   */
  body(): Promise<Buffer | undefined>;
}

/** The request as the routes see it; undefined when its target is no path (a 400 at the edge). */
export function devRequest(req: IncomingMessage, maxBodyBytes: number): DevRequest | undefined {
  const base = urlRequest(req);
  if (base === undefined) return undefined;
  let read: Promise<Buffer | undefined> | undefined;
  return {
    ...base,
    body: () => (read ??= readBody(req, maxBodyBytes)),
  };
}

/**
 * The request body, or undefined when it is over `limit` bytes. An announced length over the limit
 * is refused without reading; a longer chunked body is read on without being kept (so the client
 * gets the 413), up to a few times the limit, after which the connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    // Answered at once; the connection is closed after the answer (see tooLarge).
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        if (size > limit * 4) {
          req.destroy();
          resolve(undefined);
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(over ? undefined : Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete)
        reject(new Error('the client closed the connection before sending the whole request'));
    });
  });
}
