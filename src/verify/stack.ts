/**
 * What `verify` needs of a deployed stack: its outputs (the gateway's URL, the Cognito client),
 * and an access token for the gateway through the client-credentials grant.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CognitoIdentityProviderClient,
  DescribeUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { OUTPUTS } from '../infra/outputs.js';

export interface AwsClientConfig {
  region: string;
}

/** A deployed stack's outputs, by key. */
export async function stackOutputs(stack: string, aws: AwsClientConfig): Promise<Record<string, string>> {
  const cfn = new CloudFormationClient({ region: aws.region });
  let res;
  try {
    res = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  } catch (err) {
    throw new Error(`cannot read stack ${stack} in ${aws.region}: ${(err as Error).message}`, { cause: err });
  }
  const outputs: Record<string, string> = {};
  for (const o of res.Stacks?.[0]?.Outputs ?? []) {
    if (o.OutputKey !== undefined && o.OutputValue !== undefined) outputs[o.OutputKey] = o.OutputValue;
  }
  return outputs;
}

/**
 * For a gateway with Cognito auth: reads the machine client's secret and asks the token endpoint
 * for an access token (client-credentials grant, the gateway's scope). Undefined when the stack
 * has no Cognito client (IAM or no auth).
 */
export async function gatewayToken(
  outputs: Record<string, string>,
  aws: AwsClientConfig,
): Promise<string | undefined> {
  const userPoolId = outputs[OUTPUTS.userPoolId];
  const clientId = outputs[OUTPUTS.clientId];
  const tokenEndpoint = outputs[OUTPUTS.tokenEndpoint];
  if (userPoolId === undefined || clientId === undefined || tokenEndpoint === undefined) return undefined;
  const cognito = new CognitoIdentityProviderClient({ region: aws.region });
  let secret: string | undefined;
  try {
    const res = await cognito.send(
      new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }),
    );
    secret = res.UserPoolClient?.ClientSecret;
  } catch (err) {
    throw new Error(`cannot read the secret of Cognito client ${clientId}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (secret === undefined)
    throw new Error(`Cognito client ${clientId} has no secret; it cannot use client credentials`);
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  const scope = outputs[OUTPUTS.oauthScope];
  if (scope !== undefined) body.set('scope', scope);
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body,
  }).catch((err: unknown) => {
    throw new Error(`cannot reach the token endpoint ${tokenEndpoint}: ${(err as Error).message}`, {
      cause: err,
    });
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(
      `the token endpoint ${tokenEndpoint} answered ${String(res.status)}: ${text.slice(0, 200)}`,
    );
  let token: unknown;
  try {
    token = (JSON.parse(text) as { access_token?: unknown }).access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '')
    throw new Error(`the token endpoint ${tokenEndpoint} gave no access_token: ${text.slice(0, 200)}`);
  return token;
}
