/**
 * A gateway request's invocation of a target's function, bounded by the request's deadline (15
 * minutes on AgentCore): past it the caller is answered, and a call still queued for an
 * environment leaves the queue. The invocation itself runs on, as a Lambda invocation whose
 * caller went away does.
 */
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';
import { relayAbort } from '../../platform/abort.js';
import { EXPIRED, withDeadline, type Clock } from '../../platform/time.js';
import type { InvokeOptions, InvokeOutcome, LocalFunction } from '../lambda/function.js';
import type { LocalLambda } from '../lambda/service.js';

/** The gateway's deadline passed before the target's function answered. */
export class GatewayDeadlineError extends FleetError {
  constructor(functionName: string, waitedMs: number) {
    super(
      FLEET_ERROR.callTimeout,
      `${functionName} did not answer within the gateway's deadline (${Math.round(waitedMs)} ms)`,
    );
    this.name = 'GatewayDeadlineError';
  }

  override rpcData(): Record<string, unknown> {
    return { reason: 'timeout' };
  }
}

export async function invokeTarget(
  lambda: LocalLambda,
  fn: LocalFunction,
  event: unknown,
  opts: InvokeOptions,
  deadline: number,
  clock: Clock,
): Promise<InvokeOutcome> {
  const started = clock.now();
  const gaveUp = new AbortController();
  // `opts.signal`: the gateway's own caller went away (a client's event stream closed).
  const unrelay = relayAbort(opts.signal, gaveUp);
  const invocation = lambda.invoke(fn.name, event, { ...opts, signal: gaveUp.signal });
  const outcome = await withDeadline(invocation, deadline, { clock }).finally(unrelay);
  if (outcome !== EXPIRED) return outcome;
  gaveUp.abort(new Error("the gateway's deadline passed"));
  // Its late end (or its CallerGoneError) has nobody to tell.
  invocation.catch(() => undefined);
  throw new GatewayDeadlineError(fn.name, clock.now() - started);
}
