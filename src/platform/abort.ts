/**
 * An abort signal relayed to a controller of one's own: the controller aborts with the signal's
 * reason (at once if it already has), and the returned function takes the listener off, so a
 * long-lived signal does not keep one per finished call. Cheaper than `AbortSignal.any`, which in
 * Node.js 20 keeps weak references and a finalization registry per signal (20–40 µs a call, more
 * as the process ages).
 */
export function relayAbort(from: AbortSignal | undefined, to: AbortController): () => void {
  if (from === undefined) return () => undefined;
  const relay = (): void => {
    to.abort(from.reason);
  };
  if (from.aborted) {
    relay();
    return () => undefined;
  }
  from.addEventListener('abort', relay, { once: true });
  return () => {
    from.removeEventListener('abort', relay);
  };
}
