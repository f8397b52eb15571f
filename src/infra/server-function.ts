import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DEFAULTS, FUNCTION_NAME_PREFIX } from '../config/limits.js';
import type { ServerConfig } from '../config/model.js';
import {
  addCapacityProvider,
  capacityProviderNagAcknowledgments,
  MANAGED_INSTANCES_MIN_MEMORY_MB,
  type ManagedInstancesProps,
} from './managed-instances.js';
import { retentionDays } from './names.js';
import { NAG_PACK, type NagAcknowledgment, type NagAware } from './nag.js';
import {
  ALARM_PERIOD,
  declaredStatements,
  functionEnvironment,
  functionSecrets,
  serverAlarm,
  ServerRole,
  VPC_ENI_POLICY,
  type FunctionSecret,
} from './server-role.js';
import type { ServerArtifact } from './types.js';

export { ALARM_PERIOD, VPC_ENI_POLICY, type FunctionSecret };

/** The runtime of zip functions unless told otherwise. */
export const DEFAULT_RUNTIME = lambda.Runtime.NODEJS_22_X;
/** Handler of a zip function: `index.mjs`, export `handler`. */
export const ZIP_HANDLER = 'index.handler';
/** The duration alarm fires when p99 reaches this share of the timeout. */
export const DURATION_ALARM_RATIO = 0.8;
/** Lambda: a function description is at most 256 characters. */
const LAMBDA_DESCRIPTION_MAX = 256;
/** The function's Function URL (IAM auth). */
export type FunctionUrlMode = 'none' | 'buffered' | 'streamed';

/**
 * The props of {@link McpServerFunction}: the function's own settings, each with its default.
 * {@link serverFunctionProps} makes them from a server of servers.yaml.
 */
export interface McpServerFunctionProps {
  /** The server's id: in the function's environment, its alarms' descriptions and its nag reasons. */
  readonly serverId: string;
  /** Its built function root (zip) or image build context. */
  readonly artifact: ServerArtifact;
  /**
   * The function's name.
   * @default `mcp-server-<serverId>`
   */
  readonly functionName?: string;
  /**
   * The function's description (clipped to Lambda's 256 characters).
   * @default `mcp-fleet: <serverId>`
   */
  readonly description?: string;
  /**
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Memory in MB.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * @default cdk.Duration.seconds(60)
   */
  readonly timeout?: cdk.Duration;
  /**
   * The server's environment as the function shows it (it reaches the server through
   * launch.json anyway); keys Lambda reserves are left out (see `omittedEnv`).
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Secrets the role may read, each exactly.
   * @default - none
   */
  readonly secrets?: readonly FunctionSecret[];
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Managed policies of the role, by ARN or AWS managed policy name.
   * @default - none
   */
  readonly managedPolicies?: readonly string[];
  /**
   * Statements of the role's own policy (the server's declared permissions).
   * @default - none: the role may write its logs and read its secrets only
   */
  readonly policyStatements?: readonly iam.PolicyStatement[];
  /**
   * Subnets and security groups by id (no VPC lookup at synthesis).
   * @default - not in a VPC
   */
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
  /**
   * @default - the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * A Function URL with IAM auth: `streamed` (RESPONSE_STREAM, and the runtime told to stream:
   * an MCP-server target's endpoint) or `buffered`.
   * @default 'none'
   */
  readonly functionUrl?: FunctionUrlMode;
  /**
   * Runtime of a zip function.
   * @default DEFAULT_RUNTIME (Node.js 22)
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Where the alarms send ALARM and OK notifications.
   * @default - no alarm actions
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * What happens to the log group when the stack is deleted.
   * @default cdk.RemovalPolicy.DESTROY (its name is fixed: a retained group blocks the next deployment)
   */
  readonly logRemovalPolicy?: cdk.RemovalPolicy;
  /**
   * Run on Lambda Managed Instances: a capacity provider of the function's own, in these subnets.
   * @default - an ordinary event function
   */
  readonly managedInstances?: ManagedInstancesProps;
  /**
   * X-Ray active tracing: Lambda's segments of each invocation and its X-Ray daemon beside the
   * function, to which the runtime sends its own spans. Event functions only: no AWS source says
   * Lambda Managed Instances take it, so they are left as they are.
   * @default false
   */
  readonly tracing?: boolean;
}

/**
 * The construct's props of a server of servers.yaml and its build artifact (the runtime, the
 * alarms' topic and the log group's removal policy are the stack's to add).
 */
export function serverFunctionProps(server: ServerConfig, artifact: ServerArtifact): McpServerFunctionProps {
  const { aws } = server;
  return {
    serverId: server.id,
    artifact,
    functionName: server.functionName,
    description: `mcp-fleet: ${server.name}${server.description ? ` (${server.description})` : ''}`,
    architecture: aws.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
    memorySize: server.memory,
    timeout: cdk.Duration.seconds(server.timeout),
    environment: server.env,
    secrets: functionSecrets(server),
    logRetention: retentionDays(aws.logRetentionDays),
    managedPolicies: aws.iam.managedPolicies,
    policyStatements: declaredStatements(server),
    ...(aws.vpc === undefined ? {} : { vpc: aws.vpc }),
    ...(aws.reservedConcurrency === undefined ? {} : { reservedConcurrency: aws.reservedConcurrency }),
    functionUrl: server.gateway.targetType === 'mcp' ? 'streamed' : aws.functionUrl ? 'buffered' : 'none',
    ...managedInstancesOf(server),
  };
}

/** `managedInstances` of a `host: managed-instances` server (the stack checks its capacityProvider first). */
function managedInstancesOf(server: ServerConfig): Pick<McpServerFunctionProps, 'managedInstances'> {
  const { hosting } = server;
  const provider = hosting.capacityProvider;
  if (hosting.host !== 'managed-instances' || provider === undefined) return {};
  return {
    managedInstances: {
      subnetIds: provider.subnetIds,
      securityGroupIds: provider.securityGroupIds,
      ...(provider.maxVCpuCount === undefined ? {} : { maxVCpuCount: provider.maxVCpuCount }),
      environmentConcurrency: hosting.environmentConcurrency,
      ...(hosting.minEnvironments === undefined ? {} : { minEnvironments: hosting.minEnvironments }),
      ...(hosting.maxEnvironments === undefined ? {} : { maxEnvironments: hosting.maxEnvironments }),
    },
  };
}

/**
 * One MCP server as a Lambda function `mcp-server-<id>`: its own log group with the configured
 * retention, a role that may write to that log group, read exactly the server's secrets and do
 * what the server declared (nothing else), three alarms (errors, throttles, p99 duration near the
 * timeout), when asked a Function URL with IAM auth, and with `managedInstances` a capacity
 * provider of its own that it runs on.
 */
export class McpServerFunction extends Construct implements NagAware {
  readonly serverId: string;
  readonly functionName: string;
  readonly timeout: cdk.Duration;
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** The server's declared statements, when it declared any. */
  readonly declaredPolicy?: iam.Policy;
  readonly alarms: { errors: cloudwatch.Alarm; throttles: cloudwatch.Alarm; duration: cloudwatch.Alarm };
  readonly functionUrl?: lambda.FunctionUrl;
  /** With `managedInstances`: the capacity provider the function runs on. */
  readonly capacityProvider?: lambda.CapacityProvider;
  /** Keys of the environment left out of the function's (they reach the server through launch.json). */
  readonly omittedEnv: string[] = [];
  /** Whether the function has X-Ray active tracing. */
  readonly tracing: boolean;
  private readonly runtime?: lambda.Runtime;
  private readonly serverRole: ServerRole;

  constructor(scope: Construct, id: string, props: McpServerFunctionProps) {
    super(scope, id);
    const { serverId, artifact } = props;
    this.serverId = serverId;
    this.functionName = props.functionName ?? `${FUNCTION_NAME_PREFIX}${serverId}`;
    this.timeout = props.timeout ?? cdk.Duration.seconds(DEFAULTS.timeout);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const urlMode = props.functionUrl ?? 'none';
    this.tracing = props.tracing === true && props.managedInstances === undefined;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${this.functionName}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: props.logRemovalPolicy ?? cdk.RemovalPolicy.DESTROY,
    });

    this.serverRole = new ServerRole(this, {
      serverId,
      functionName: this.functionName,
      logGroup: this.logGroup,
      ...(props.secrets === undefined ? {} : { secrets: props.secrets }),
      ...(props.managedPolicies === undefined ? {} : { managedPolicies: props.managedPolicies }),
      ...(props.policyStatements === undefined ? {} : { policyStatements: props.policyStatements }),
      inVpc: props.vpc !== undefined,
    });
    this.role = this.serverRole.role;
    if (this.serverRole.declaredPolicy !== undefined) this.declaredPolicy = this.serverRole.declaredPolicy;

    const common = this.functionOptions(props, architecture, urlMode === 'streamed');
    if (artifact.kind === 'zip') {
      this.runtime = props.runtime ?? DEFAULT_RUNTIME;
      this.function = new lambda.Function(this, 'Function', {
        ...common,
        runtime: this.runtime,
        handler: ZIP_HANDLER,
        code: lambda.Code.fromAsset(artifact.dir),
      });
    } else {
      this.function = new lambda.DockerImageFunction(this, 'Function', {
        ...common,
        code: lambda.DockerImageCode.fromImageAsset(artifact.dir, {
          platform: ecrAssets.Platform.custom(architecture.dockerPlatform),
        }),
      });
    }
    if (this.declaredPolicy !== undefined) this.function.node.addDependency(this.declaredPolicy);
    if (props.vpc !== undefined) {
      // Subnets and security groups by id: no VPC lookup at synthesis, no account access needed.
      const cfn = this.function.node.defaultChild as lambda.CfnFunction;
      cfn.vpcConfig = {
        subnetIds: [...props.vpc.subnetIds],
        securityGroupIds: [...props.vpc.securityGroupIds],
      };
    }

    if (props.managedInstances !== undefined) {
      checkManagedInstances(serverId, artifact, common.memorySize ?? DEFAULTS.memory);
      this.capacityProvider = addCapacityProvider(this, this.function, architecture, props.managedInstances);
    }
    this.alarms = this.createAlarms(props.alarmTopic);
    this.functionUrl = this.addFunctionUrl(urlMode);
  }

  /** What the function has whether it is a zip or an image function. */
  private functionOptions(
    props: McpServerFunctionProps,
    architecture: lambda.Architecture,
    stream: boolean,
  ): lambda.FunctionOptions {
    return {
      functionName: this.functionName,
      description: clip(props.description ?? `mcp-fleet: ${this.serverId}`),
      role: this.role,
      architecture,
      memorySize: props.memorySize ?? DEFAULTS.memory,
      timeout: this.timeout,
      environment: this.environment(props.environment ?? {}, stream),
      logGroup: this.logGroup,
      ...(props.tracing === true && props.managedInstances === undefined
        ? { tracing: lambda.Tracing.ACTIVE }
        : {}),
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
    };
  }

  /** The Function URL (IAM auth) the mode asks for, if any. */
  private addFunctionUrl(mode: FunctionUrlMode): lambda.FunctionUrl | undefined {
    if (mode === 'streamed') {
      // The endpoint of its MCP-server target: IAM auth (the gateway's role signs), streamed so
      // that progress and logging notifications reach the client while a tool runs.
      return this.function.addFunctionUrl({
        authType: lambda.FunctionUrlAuthType.AWS_IAM,
        invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
      });
    }
    if (mode === 'buffered')
      return this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    return undefined;
  }

  /** The function's env (see {@link functionEnvironment}); the keys left out go to `omittedEnv`. */
  private environment(
    environment: Readonly<Record<string, string>>,
    stream: boolean,
  ): Record<string, string> {
    const ids = { serverId: this.serverId, functionName: this.functionName };
    const { variables, omitted } = functionEnvironment(this, ids, environment, { stream });
    this.omittedEnv.push(...omitted);
    return variables;
  }

  private createAlarms(topic: sns.ITopic | undefined): McpServerFunction['alarms'] {
    const common = { functionName: this.functionName, ...(topic === undefined ? {} : { topic }) };
    const sum = { period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM };
    return {
      errors: serverAlarm(this, 'ErrorsAlarm', {
        ...common,
        suffix: 'errors',
        metric: this.function.metricErrors(sum),
        threshold: 1,
        what: 'the function failed at least once in 5 minutes',
      }),
      throttles: serverAlarm(this, 'ThrottlesAlarm', {
        ...common,
        suffix: 'throttles',
        metric: this.function.metricThrottles(sum),
        threshold: 1,
        what: 'the function was throttled at least once in 5 minutes',
      }),
      duration: serverAlarm(this, 'DurationAlarm', {
        ...common,
        suffix: 'duration',
        metric: this.function.metricDuration({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.p(99) }),
        threshold: Math.round(this.timeout.toMilliseconds() * DURATION_ALARM_RATIO),
        what: `p99 duration reached ${DURATION_ALARM_RATIO * 100}% of the ${this.timeout.toSeconds()} s timeout`,
      }),
    };
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = [];
    if (this.runtime !== undefined && !isLatestOfFamily(this.runtime)) {
      acks.push({
        scope: this.function,
        id: `${NAG_PACK}-L1`,
        reason: `${this.runtime.name} is the runtime the mcp-fleet handler bundle is built and tested for; a newer Node.js runtime is a deliberate upgrade, not a drift to flag per function`,
      });
    }
    acks.push(...this.serverRole.nagAcknowledgments());
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (this.tracing && defaultPolicy !== undefined) {
      acks.push({
        scope: defaultPolicy,
        id: `${NAG_PACK}-IAM5[Resource::*]`,
        reason: `server ${this.serverId} has X-Ray active tracing: Lambda's X-Ray daemon sends its segments with the function's role, and xray:PutTraceSegments and xray:PutTelemetryRecords take no resource (the grant CDK adds for Tracing.ACTIVE)`,
      });
    }
    if (this.capacityProvider !== undefined)
      acks.push(...capacityProviderNagAcknowledgments(this.capacityProvider, this.serverId));
    return acks;
  }
}

/** What a managed-instances function must be here: a zip of at least 2 GB. */
function checkManagedInstances(serverId: string, artifact: ServerArtifact, memorySize: number): void {
  if (artifact.kind !== 'zip')
    throw new Error(`server ${serverId}: managed instances run a zip function here, not an image`);
  if (memorySize < MANAGED_INSTANCES_MIN_MEMORY_MB)
    throw new Error(
      `server ${serverId}: ${memorySize} MB is below the ${MANAGED_INSTANCES_MIN_MEMORY_MB} MB of the smallest Lambda Managed Instances function`,
    );
}

function clip(text: string, max = LAMBDA_DESCRIPTION_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Whether a runtime is the newest of its family that this aws-cdk-lib knows (what cdk-nag L1 checks). */
export function isLatestOfFamily(runtime: lambda.Runtime): boolean {
  const family = /^[a-z]+/.exec(runtime.name)?.[0] ?? runtime.name;
  const version = (name: string): number[] => (/\d+(\.\d+)?/.exec(name)?.[0] ?? '0').split('.').map(Number);
  const newer = lambda.Runtime.ALL.filter((r) => r.name.startsWith(family)).some((r) => {
    const [a = 0, b = 0] = version(r.name);
    const [x = 0, y = 0] = version(runtime.name);
    return a > x || (a === x && b > y);
  });
  return !newer;
}
