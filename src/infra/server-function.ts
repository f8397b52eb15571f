import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DEFAULTS, FUNCTION_NAME_PREFIX } from '../config/limits.js';
import type { ServerConfig } from '../config/model.js';
import { FUNCTION_ENV } from '../contract/function-env.js';
import { METRICS_NAMESPACE } from '../contract/metrics.js';
import {
  LAMBDA_ENV_MAX_BYTES,
  LAMBDA_RESERVED_ENV,
  retentionDays,
  secretsManagerArn,
  ssmParameterArn,
} from './names.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment, type NagAware } from './nag.js';
import type { ServerArtifact } from './types.js';

/** The runtime of zip functions unless told otherwise. */
export const DEFAULT_RUNTIME = lambda.Runtime.NODEJS_22_X;
/** Handler of a zip function: `index.mjs`, export `handler`. */
export const ZIP_HANDLER = 'index.handler';
/** The period every alarm looks at. */
export const ALARM_PERIOD = cdk.Duration.minutes(5);
/** The duration alarm fires when p99 reaches this share of the timeout. */
export const DURATION_ALARM_RATIO = 0.8;
/** Lambda: a function description is at most 256 characters. */
const LAMBDA_DESCRIPTION_MAX = 256;
/** The managed policy a function in a VPC needs for its network interfaces (ec2 ENI actions only). */
export const VPC_ENI_POLICY = 'service-role/AWSLambdaENIManagementAccess';

/** A secret the function's role may read (the server reads it at start). */
export type FunctionSecret =
  | { readonly ssmParameter: string }
  /** A Secrets Manager secret by name or ARN. */
  | { readonly secretsManagerSecret: string };

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
    secrets: Object.values(server.secrets).map((ref) =>
      ref.source === 'ssm' ? { ssmParameter: ref.parameter } : { secretsManagerSecret: ref.secret },
    ),
    logRetention: retentionDays(aws.logRetentionDays),
    managedPolicies: aws.iam.managedPolicies,
    policyStatements: aws.iam.statements.map(
      (s) =>
        new iam.PolicyStatement({
          effect: s.effect === 'Deny' ? iam.Effect.DENY : iam.Effect.ALLOW,
          actions: s.actions,
          resources: s.resources,
          ...(s.conditions === undefined ? {} : { conditions: s.conditions }),
        }),
    ),
    ...(aws.vpc === undefined ? {} : { vpc: aws.vpc }),
    ...(aws.reservedConcurrency === undefined ? {} : { reservedConcurrency: aws.reservedConcurrency }),
    functionUrl: server.gateway.targetType === 'mcp' ? 'streamed' : aws.functionUrl ? 'buffered' : 'none',
  };
}

/**
 * One MCP server as a Lambda function `mcp-server-<id>`: its own log group with the configured
 * retention, a role that may write to that log group, read exactly the server's secrets and do
 * what the server declared (nothing else), three alarms (errors, throttles, p99 duration near the
 * timeout) and, when asked, a Function URL with IAM auth.
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
  /** Keys of the environment left out of the function's (they reach the server through launch.json). */
  readonly omittedEnv: string[] = [];
  private readonly runtime?: lambda.Runtime;
  private readonly managedPolicies: { name: string; policy: iam.IManagedPolicy; declared: boolean }[] = [];
  private readonly statements: readonly iam.PolicyStatement[];

  constructor(scope: Construct, id: string, props: McpServerFunctionProps) {
    super(scope, id);
    const { serverId, artifact } = props;
    this.serverId = serverId;
    this.functionName = props.functionName ?? `${FUNCTION_NAME_PREFIX}${serverId}`;
    this.timeout = props.timeout ?? cdk.Duration.seconds(DEFAULTS.timeout);
    this.statements = props.policyStatements ?? [];
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const urlMode = props.functionUrl ?? 'none';

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${this.functionName}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: props.logRemovalPolicy ?? cdk.RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `mcp-fleet: execution role of ${this.functionName}`,
    });
    this.logGroup.grantWrite(this.role);
    this.grantSecrets(props.secrets ?? []);
    this.addManagedPolicies(props.managedPolicies ?? [], props.vpc !== undefined);
    if (this.statements.length > 0) {
      this.declaredPolicy = new iam.Policy(this, 'DeclaredPolicy', {
        roles: [this.role],
        statements: [...this.statements],
      });
    }

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

    this.alarms = this.createAlarms(props.alarmTopic);
    this.functionUrl = this.addFunctionUrl(urlMode);
  }

  /** The declared managed policies on the role, and the ENI policy a function in a VPC needs. */
  private addManagedPolicies(names: readonly string[], inVpc: boolean): void {
    for (const [i, name] of names.entries()) {
      const policy = name.startsWith('arn:')
        ? iam.ManagedPolicy.fromManagedPolicyArn(this, `ManagedPolicy${i}`, name)
        : iam.ManagedPolicy.fromAwsManagedPolicyName(name);
      this.role.addManagedPolicy(policy);
      this.managedPolicies.push({ name, policy, declared: true });
    }
    if (inVpc) {
      // Lambda creates the function's network interfaces with the execution role.
      const policy = iam.ManagedPolicy.fromAwsManagedPolicyName(VPC_ENI_POLICY);
      this.role.addManagedPolicy(policy);
      this.managedPolicies.push({ name: VPC_ENI_POLICY, policy, declared: names.includes(VPC_ENI_POLICY) });
    }
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

  /**
   * `ssm:GetParameter` on exactly each SSM parameter and `secretsmanager:GetSecretValue` on exactly
   * each secret the server reads at start.
   */
  private grantSecrets(secrets: readonly FunctionSecret[]): void {
    const byAction = new Map<string, string[]>();
    for (const secret of secrets) {
      const { action, resource } =
        'ssmParameter' in secret
          ? { action: 'ssm:GetParameter', resource: ssmParameterArn(this, secret.ssmParameter) }
          : {
              action: 'secretsmanager:GetSecretValue',
              resource: secretsManagerArn(this, secret.secretsManagerSecret),
            };
      const list = byAction.get(action) ?? [];
      if (!list.includes(resource)) list.push(resource);
      byAction.set(action, list);
    }
    for (const [action, resources] of byAction) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [action], resources }));
    }
  }

  /**
   * The server's env (it reaches the server through launch.json anyway; here it is visible in the
   * console) without the keys Lambda reserves, plus the server id and Powertools' settings.
   */
  private environment(
    environment: Readonly<Record<string, string>>,
    stream: boolean,
  ): Record<string, string> {
    const own: Record<string, string> = {
      [FUNCTION_ENV.serverId]: this.serverId,
      // The runtime's Telemetry names its service `mcp-server-<id>`, as the local fleet does.
      [FUNCTION_ENV.serviceName]: this.functionName,
      [FUNCTION_ENV.metricsNamespace]: METRICS_NAMESPACE,
    };
    if (stream) own[FUNCTION_ENV.responseStream] = 'true';
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(environment)) {
      if (LAMBDA_RESERVED_ENV.has(key) || key in own) this.omittedEnv.push(key);
      else env[key] = value;
    }
    const size = (e: Record<string, string>): number =>
      Object.entries(e).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size({ ...env, ...own }) > LAMBDA_ENV_MAX_BYTES) {
      this.omittedEnv.push(...Object.keys(env));
      cdk.Annotations.of(this).addWarningV2(
        'mcp-fleet:envTooLarge',
        `the env of ${this.serverId} is over Lambda's ${LAMBDA_ENV_MAX_BYTES} bytes of environment; it reaches the server through launch.json only`,
      );
      return own;
    }
    return { ...env, ...own };
  }

  private createAlarms(topic: sns.ITopic | undefined): McpServerFunction['alarms'] {
    const name = this.functionName;
    const timeoutMs = this.timeout.toMilliseconds();
    const alarm = (
      id: string,
      suffix: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      what: string,
    ) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmName: `${name}-${suffix}`,
        alarmDescription: `mcp-fleet: ${what} (${name})`,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (topic !== undefined) {
        a.addAlarmAction(new cloudwatchActions.SnsAction(topic));
        a.addOkAction(new cloudwatchActions.SnsAction(topic));
      }
      return a;
    };
    return {
      errors: alarm(
        'ErrorsAlarm',
        'errors',
        this.function.metricErrors({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        1,
        'the function failed at least once in 5 minutes',
      ),
      throttles: alarm(
        'ThrottlesAlarm',
        'throttles',
        this.function.metricThrottles({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
        1,
        'the function was throttled at least once in 5 minutes',
      ),
      duration: alarm(
        'DurationAlarm',
        'duration',
        this.function.metricDuration({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.p(99) }),
        Math.round(timeoutMs * DURATION_ALARM_RATIO),
        `p99 duration reached ${DURATION_ALARM_RATIO * 100}% of the ${this.timeout.toSeconds()} s timeout`,
      ),
    };
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = [];
    const id = this.serverId;
    if (this.runtime !== undefined && !isLatestOfFamily(this.runtime)) {
      acks.push({
        scope: this.function,
        id: `${NAG_PACK}-L1`,
        reason: `${this.runtime.name} is the runtime the mcp-fleet handler bundle is built and tested for; a newer Node.js runtime is a deliberate upgrade, not a drift to flag per function`,
      });
    }
    for (const { name, policy, declared } of this.managedPolicies) {
      const finding = `Policy::${nagFinding(this, policy.managedPolicyArn)}`;
      if (!finding.includes(':iam::aws:')) continue;
      acks.push({
        scope: this.role,
        id: `${NAG_PACK}-IAM4[${finding}]`,
        reason: !declared
          ? `server ${id} runs in a VPC: Lambda creates and deletes its network interfaces with this role, and ${VPC_ENI_POLICY} grants exactly those ec2 ENI actions`
          : `server ${id} declares the AWS managed policy ${name} in servers.yaml (aws.iam.managedPolicies)`,
      });
    }
    if (this.declaredPolicy !== undefined) {
      const findings = new Set<string>();
      for (const s of this.statements) {
        if (s.effect !== iam.Effect.ALLOW) continue;
        for (const a of s.actions) if (a.includes('*')) findings.add(`Action::${a}`);
        for (const r of s.resources) {
          const flat = nagFinding(this, r);
          if (flat.includes('*')) findings.add(`Resource::${flat}`);
        }
      }
      for (const f of findings) {
        acks.push({
          scope: this.declaredPolicy,
          id: `${NAG_PACK}-IAM5[${f}]`,
          reason: `server ${id} declares this wildcard in servers.yaml (aws.iam.statements); the policy holds only the server's own declared statements`,
        });
      }
    }
    return acks;
  }
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
