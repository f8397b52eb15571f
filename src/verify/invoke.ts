import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/** A synchronous Invoke with a JSON event (and client context); the decoded payload. */
export async function invokeFunction(
  client: LambdaClient,
  name: string,
  event: unknown,
  clientContext?: unknown,
): Promise<{ payload: unknown; functionError?: string }> {
  const res = await client.send(
    new InvokeCommand({
      FunctionName: name,
      Payload: Buffer.from(JSON.stringify(event)),
      ...(clientContext !== undefined
        ? { ClientContext: Buffer.from(JSON.stringify(clientContext)).toString('base64') }
        : {}),
    }),
  );
  const text = res.Payload ? Buffer.from(res.Payload).toString('utf8') : 'null';
  return {
    payload: JSON.parse(text) as unknown,
    ...(res.FunctionError ? { functionError: res.FunctionError } : {}),
  };
}
