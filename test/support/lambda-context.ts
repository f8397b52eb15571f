/** A Lambda context as the Node.js runtime builds it, with AgentCore's client context. */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { systemClock, type Clock } from '../../src/platform/time.js';

export interface LambdaContextOptions {
  /** AgentCore's tool name (`<target>___<tool>`) in the client context. */
  toolName?: string;
  /** What Lambda leaves of the invocation, from now (default 60 s). */
  remainingMs?: number;
  custom?: Record<string, unknown>;
  /** The clock the remaining time runs on (default the machine's). */
  clock?: Clock;
}

export function lambdaContext(opts: LambdaContextOptions = {}): Context {
  const clock = opts.clock ?? systemClock;
  const deadline = clock.now() + (opts.remainingMs ?? 60_000);
  const custom = {
    ...(opts.custom ?? {}),
    ...(opts.toolName === undefined ? {} : { bedrockAgentCoreToolName: opts.toolName }),
  };
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'mcp-server-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:mcp-server-test',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/mcp-server-test',
    logStreamName: 'stream',
    clientContext: { custom } as unknown as Context['clientContext'],
    getRemainingTimeInMillis: () => deadline - clock.now(),
  };
  return context as unknown as Context;
}
