import * as cdk from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';

/**
 * The logical id of a server's Lambda ARN output, as the seed deployment named it: `Mcp`, the id
 * with its separators removed and only the first letter upper case, `LambdaArn` (`core-mcp` →
 * `McpCoremcpLambdaArn`, `aws-pricing` → `McpAwspricingLambdaArn`, `git` → `McpGitLambdaArn`), so
 * scripts written against the seed's outputs keep working.
 */
export function lambdaArnOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}LambdaArn`;
}

/** The logical id of a server's Function URL output: `Mcp<Id>FunctionUrl`, same stem as the ARN. */
export function functionUrlOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}FunctionUrl`;
}

/** The logical id of a web function's ARN output: `Mcp<Id>WebFunctionArn`. */
export function webFunctionArnOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}WebFunctionArn`;
}

/** The logical id of a web function's MCP endpoint output: `Mcp<Id>EndpointUrl`. */
export function endpointUrlOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}EndpointUrl`;
}

/** The logical id of an AgentCore runtime's ARN output: `Mcp<Id>RuntimeArn`. */
export function runtimeArnOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}RuntimeArn`;
}

/** The logical id of an AgentCore runtime's invoke URL output: `Mcp<Id>RuntimeInvokeUrl`. */
export function runtimeInvokeUrlOutputId(serverId: string): string {
  return `Mcp${outputStem(serverId)}RuntimeInvokeUrl`;
}

function outputStem(serverId: string): string {
  const bare = serverId.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  return bare.charAt(0).toUpperCase() + bare.slice(1);
}

/**
 * The ARN an SSM parameter reference names: an ARN as written, else the parameter in the stack's
 * account and region (`/mcp/token` and `mcp/token` are the same parameter).
 */
export function ssmParameterArn(scope: IConstruct, parameter: string): string {
  if (parameter.startsWith('arn:')) return parameter;
  return cdk.Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: parameter.replace(/^\/+/, ''),
    arnFormat: cdk.ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * The ARN a Secrets Manager reference names: an ARN as written, else the secret of that name in the
 * stack's account and region. A secret's ARN ends with `-` and six random characters, so a name
 * matches it with `-??????` (exactly six characters; `*` would also match `name-other-abcdef`).
 */
export function secretsManagerArn(scope: IConstruct, secret: string): string {
  if (secret.startsWith('arn:')) return secret;
  return cdk.Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secret}-??????`,
    arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME,
  });
}

const RETENTIONS = new Map<number, logs.RetentionDays>();
for (const v of Object.values(logs.RetentionDays)) if (typeof v === 'number') RETENTIONS.set(v, v);

/** A retention in days (validated by the config against CloudWatch Logs' list) as the CDK enum. */
export function retentionDays(days: number): logs.RetentionDays {
  const retention = RETENTIONS.get(days);
  if (retention === undefined) throw new Error(`${days} days is not a retention CloudWatch Logs accepts`);
  return retention;
}

/**
 * Environment variables Lambda reserves: a function that sets one is refused at deployment. The
 * server still gets them from its launch spec (launch.json), which the runtime passes to the
 * process.
 */
export const LAMBDA_RESERVED_ENV = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/** Lambda: all environment variables of a function together, at most 4 KB. */
export const LAMBDA_ENV_MAX_BYTES = 4096;
