import * as cdk from 'aws-cdk-lib';
import * as agentcore from 'aws-cdk-lib/aws-bedrockagentcore';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { InterceptionPoint, InterceptorConfig } from '../config/interceptors.js';
import { DEFAULTS } from '../config/limits.js';
import { retentionDays } from './names.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment, type NagAware } from './nag.js';
import { DEFAULT_RUNTIME, isLatestOfFamily, ZIP_HANDLER } from './server-function.js';

export interface McpFleetInterceptorProps {
  /** REQUEST (before the gateway serves a request) or RESPONSE (on its answer). */
  readonly point: InterceptionPoint;
  /** The function folder `mcp-fleet build` wrote (`index.mjs`, export `handler`). */
  readonly codeDir: string;
  /**
   * The function's name.
   * @default - one CloudFormation generates
   */
  readonly functionName?: string;
  /**
   * Give the interceptor the request's HTTP headers (Authorization included).
   * @default false
   */
  readonly passRequestHeaders?: boolean;
  /**
   * The function's timeout.
   * @default cdk.Duration.seconds(10)
   */
  readonly timeout?: cdk.Duration;
  /**
   * The function's memory, MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * The function's architecture.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * The function's runtime.
   * @default DEFAULT_RUNTIME (Node.js 22)
   */
  readonly runtime?: lambda.Runtime;
  /**
   * How long its log group keeps events.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to its log group when the stack is deleted.
   * @default cdk.RemovalPolicy.DESTROY (its name is fixed: a retained group blocks the next deployment)
   */
  readonly logRemovalPolicy?: cdk.RemovalPolicy;
  /**
   * The function's description.
   * @default - says which interceptor it is
   */
  readonly description?: string;
}

/** The construct's props from the config model (`gateway.interceptors.<point>`) and its build folder. */
export function interceptorPropsFrom(config: InterceptorConfig, codeDir: string): McpFleetInterceptorProps {
  return {
    point: config.point,
    codeDir,
    functionName: config.functionName,
    passRequestHeaders: config.passRequestHeaders,
    timeout: cdk.Duration.seconds(config.timeout),
    memorySize: config.memory,
    // The fleet's default architecture (DEFAULTS.architecture).
    architecture: lambda.Architecture.ARM_64,
    logRetention: retentionDays(DEFAULTS.logRetentionDays),
    description: `mcp-fleet: ${config.point.toUpperCase()} interceptor of the gateway (${config.file}#${config.export})`,
  };
}

/**
 * An AgentCore Gateway interceptor as its own Lambda function: its log group with a retention, a
 * role that may write to that log group only, and the {@link agentcore.LambdaInterceptor} for the
 * gateway's interceptorConfigurations. {@link attachTo} adds it to a gateway, whose role may then
 * invoke exactly this function (the L2's grant).
 */
export class McpFleetInterceptor extends Construct implements NagAware {
  readonly point: InterceptionPoint;
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly interceptor: agentcore.LambdaInterceptor;
  private readonly runtime: lambda.Runtime;
  private gatewayRole?: iam.IRole;

  constructor(scope: Construct, id: string, props: McpFleetInterceptorProps) {
    super(scope, id);
    this.point = props.point;
    const name = props.functionName;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      ...(name === undefined ? {} : { logGroupName: `/aws/lambda/${name}` }),
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? cdk.RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `mcp-fleet: execution role of the gateway's ${props.point.toUpperCase()} interceptor`,
    });
    this.logGroup.grantWrite(this.role);
    this.runtime = props.runtime ?? DEFAULT_RUNTIME;
    this.function = new lambda.Function(this, 'Function', {
      ...(name === undefined ? {} : { functionName: name }),
      description: (
        props.description ?? `mcp-fleet: ${props.point.toUpperCase()} interceptor of the gateway`
      ).slice(0, 256),
      runtime: this.runtime,
      handler: ZIP_HANDLER,
      code: lambda.Code.fromAsset(props.codeDir),
      role: this.role,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? cdk.Duration.seconds(10),
      logGroup: this.logGroup,
    });
    const options = { passRequestHeaders: props.passRequestHeaders ?? false };
    this.interceptor =
      props.point === 'request'
        ? agentcore.LambdaInterceptor.forRequest(this.function, options)
        : agentcore.LambdaInterceptor.forResponse(this.function, options);
  }

  /** Adds the interceptor to the gateway (its role is granted lambda:InvokeFunction on this function). */
  attachTo(gateway: agentcore.Gateway): void {
    gateway.addInterceptor(this.interceptor);
    this.gatewayRole = gateway.role;
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = [];
    if (!isLatestOfFamily(this.runtime)) {
      acks.push({
        scope: this.function,
        id: `${NAG_PACK}-L1`,
        reason: `${this.runtime.name} is the runtime the servers' functions use and the interceptor bundle is built for (esbuild target node20+); a newer Node.js runtime is a deliberate upgrade of the whole fleet, not a drift to flag per function`,
      });
    }
    if (this.gatewayRole !== undefined) {
      acks.push({
        scope: this.gatewayRole,
        id: `${NAG_PACK}-IAM5[Resource::${nagFinding(this, this.function.functionArn)}:*]`,
        reason: `the gateway role may invoke its ${this.point.toUpperCase()} interceptor function and that function's versions and aliases (ARN:*), that one function only; the grant comes from the AgentCore L2's LambdaInterceptor`,
      });
    }
    return acks;
  }
}
