/**
 * `host: web-function`: the server behind a Lambda Web Function, an ordinary HTTP server (the
 * runtime's Web Function entry) that takes many requests at once per environment, reached by the
 * gateway as an MCP-server target on its IAM-authenticated endpoint.
 */
import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DEFAULTS, FUNCTION_NAME_PREFIX } from '../config/limits.js';
import type { ServerConfig } from '../config/model.js';
import { retentionDays } from './names.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment, type NagAware } from './nag.js';
import {
  ALARM_PERIOD,
  declaredStatements,
  functionEnvironment,
  functionSecrets,
  serverAlarm,
  ServerRole,
  type FunctionSecret,
} from './server-role.js';

/** The runtime of web functions unless told otherwise (the only one Web Functions have). */
export const DEFAULT_WEB_RUNTIME = lambda.WebFunctionRuntime.NODEJS_24_X;
/** The file of the zip the runtime starts: the Web Function entry, as the build writes it. */
export const WEB_ENTRY_POINT = 'index.mjs';
/** Where on the endpoint the entry serves MCP (Streamable HTTP). */
export const WEB_MCP_PATH = '/mcp';
/** The endpoint a web function creates for itself: the L2's default name of a home-Region endpoint. */
export const WEB_ENDPOINT_NAME = 'prod';
/** Web Functions' metrics namespace (dimensions FunctionName and EndpointName). */
export const WEB_METRICS_NAMESPACE = 'AWS/Lambda/Web';
/** Requests answered with a 5xx status (AWS's metric list names it). */
export const WEB_5XX_METRIC = 'HTTPResponseStatusClass5XX';
/** A revision description is at most 256 characters. */
const REVISION_DESCRIPTION_MAX = 256;
/** Lambda refuses environment keys with this prefix on a web function (it sets its own). */
const WEB_RESERVED_ENV_PREFIX = 'AWS_LAMBDA_';

/**
 * The props of {@link McpWebFunction}: the web function's own settings, each with its default.
 * {@link webFunctionProps} makes them from a server of servers.yaml.
 */
export interface McpWebFunctionProps {
  /** The server's id: in the function's environment, its alarms' descriptions and its nag reasons. */
  readonly serverId: string;
  /** Its built zip root: the Web Function entry as `index.mjs`, `launch.json`, the server. */
  readonly dir: string;
  /**
   * The web function's name (unique across the account's Regions).
   * @default `mcp-server-<serverId>`
   */
  readonly functionName?: string;
  /**
   * The revision's description (clipped to 256 characters).
   * @default `mcp-fleet: <serverId>`
   */
  readonly description?: string;
  /**
   * How long one request may take (3–900 s; a streamed response included).
   * @default cdk.Duration.seconds(60)
   */
  readonly timeout?: cdk.Duration;
  /**
   * Requests one environment takes at once at most (`maxConcurrencyPerEnvironment`, 1–128).
   * @default - the service's (64)
   */
  readonly environmentConcurrency?: number;
  /**
   * The endpoint's most environments (at least 2).
   * @default - the account's vCPU quota only
   */
  readonly maxEnvironments?: number;
  /**
   * The endpoint's requests per second (0, 100–1000 by 100, 2000–10000 by 1000).
   * @default - the account's rate quota only
   */
  readonly rateLimit?: number;
  /**
   * The server's environment as the function shows it (it reaches the server through
   * launch.json anyway); keys Lambda reserves, and every `AWS_LAMBDA_*` key, are left out.
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
   * The level of Lambda's system events kept in the log (DEBUG adds one event per request).
   * @default - the service's (INFO)
   */
  readonly systemLogLevel?: lambda.SystemLogLevel;
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
   * @default DEFAULT_WEB_RUNTIME (Node.js 24)
   */
  readonly runtime?: lambda.WebFunctionRuntime;
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

/** The construct's props of a `host: web-function` server of servers.yaml and its built zip root. */
export function webFunctionProps(server: ServerConfig, dir: string): McpWebFunctionProps {
  const { aws, hosting } = server;
  return {
    serverId: server.id,
    dir,
    functionName: server.functionName,
    description: `mcp-fleet: ${server.name}${server.description ? ` (${server.description})` : ''}`,
    timeout: cdk.Duration.seconds(server.timeout),
    environmentConcurrency: hosting.environmentConcurrency,
    ...(hosting.maxEnvironments === undefined ? {} : { maxEnvironments: hosting.maxEnvironments }),
    ...(hosting.rateLimit === undefined ? {} : { rateLimit: hosting.rateLimit }),
    environment: server.env,
    secrets: functionSecrets(server),
    logRetention: retentionDays(aws.logRetentionDays),
    ...(aws.systemLogLevel === undefined
      ? {}
      : { systemLogLevel: lambda.SystemLogLevel[aws.systemLogLevel] }),
    managedPolicies: aws.iam.managedPolicies,
    policyStatements: declaredStatements(server),
  };
}

/**
 * One MCP server as a Lambda Web Function `mcp-server-<id>` (L2 `lambda.WebFunction`): Node.js 24
 * on arm64, the build's zip staged into the stack's managed code bucket, `index.mjs` as the entry,
 * one home-Region endpoint with IAM auth (`IamAuth`: callers sign with SigV4); its own log group
 * with the configured retention; a role that may write to it, read exactly the server's secrets
 * and do what the server declared; an alarm on the endpoint's 5xx answers.
 */
export class McpWebFunction extends Construct implements NagAware {
  readonly serverId: string;
  readonly functionName: string;
  readonly timeout: cdk.Duration;
  readonly webFunction: lambda.WebFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** The server's declared statements, when it declared any. */
  readonly declaredPolicy?: iam.Policy;
  readonly alarms: { errors: cloudwatch.Alarm };
  /** Keys of the environment left out of the function's (they reach the server through launch.json). */
  readonly omittedEnv: string[];
  private readonly serverRole: ServerRole;

  constructor(scope: Construct, id: string, props: McpWebFunctionProps) {
    super(scope, id);
    this.serverId = props.serverId;
    this.functionName = props.functionName ?? `${FUNCTION_NAME_PREFIX}${props.serverId}`;
    this.timeout = props.timeout ?? cdk.Duration.seconds(DEFAULTS.timeout);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      // The name Lambda would give it (`/aws/lambda/web/<function>`), with the server's retention.
      logGroupName: `/aws/lambda/web/${this.functionName}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: props.logRemovalPolicy ?? cdk.RemovalPolicy.DESTROY,
    });
    this.serverRole = new ServerRole(this, {
      serverId: this.serverId,
      functionName: this.functionName,
      logGroup: this.logGroup,
      ...(props.secrets === undefined ? {} : { secrets: props.secrets }),
      ...(props.managedPolicies === undefined ? {} : { managedPolicies: props.managedPolicies }),
      ...(props.policyStatements === undefined ? {} : { policyStatements: props.policyStatements }),
    });
    this.role = this.serverRole.role;
    if (this.serverRole.declaredPolicy !== undefined) this.declaredPolicy = this.serverRole.declaredPolicy;
    const ids = { serverId: this.serverId, functionName: this.functionName };
    const env = functionEnvironment(this, ids, props.environment ?? {}, {
      reservedPrefix: WEB_RESERVED_ENV_PREFIX,
    });
    this.omittedEnv = env.omitted;
    this.webFunction = new lambda.WebFunction(this, 'WebFunction', {
      ...this.functionProps(props),
      environment: env.variables,
      role: this.role,
      logGroup: this.logGroup,
    });
    // The revision runs as the role: its policies first (the declared ones are a separate policy).
    if (this.declaredPolicy !== undefined) this.webFunction.node.addDependency(this.declaredPolicy);
    this.alarms = { errors: this.errorsAlarm(props.alarmTopic) };
  }

  /** The WebFunction's props other than its role, environment and logs. */
  private functionProps(props: McpWebFunctionProps): Omit<lambda.WebFunctionProps, 'role' | 'environment'> {
    const endpoint: lambda.WebFunctionDefaultEndpointOptions = {
      endpointName: WEB_ENDPOINT_NAME,
      ...(props.maxEnvironments === undefined ? {} : { maxEnvironments: props.maxEnvironments }),
      ...(props.rateLimit === undefined ? {} : { rateLimit: props.rateLimit }),
    };
    return {
      webFunctionName: this.functionName,
      revisionDescription: clip(props.description ?? `mcp-fleet: ${this.serverId}`),
      ...(props.systemLogLevel === undefined ? {} : { systemLogLevel: props.systemLogLevel }),
      // One versioned, SSE-S3 bucket per stack that every web function's code is copied into; its
      // policy does not grow with the number of functions (see docs/infrastructure.md, "Hosts").
      code: lambda.WebFunctionCode.fromAssetToManagedBucket(props.dir, {
        copyOptions: WebCodeCopy.of(this).copyOptions,
      }),
      runtime: props.runtime ?? DEFAULT_WEB_RUNTIME,
      entryPoint: WEB_ENTRY_POINT,
      defaultEndpointAuth: lambda.WebFunctionAuthType.IAM_AUTH,
      defaultEndpoint: endpoint,
      timeout: this.timeout,
      ...(props.environmentConcurrency === undefined
        ? {}
        : { maxConcurrencyPerEnvironment: props.environmentConcurrency }),
    };
  }

  /** The endpoint's host name, `<id>.<gen>.lambda-web.<region>.on.aws`. */
  get domainName(): string {
    return this.webFunction.endpoint.domainName;
  }

  /** The MCP endpoint: `https://<domain>/mcp`. */
  get url(): string {
    return `https://${this.domainName}${WEB_MCP_PATH}`;
  }

  /** A metric of the endpoint in `AWS/Lambda/Web`. */
  metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: WEB_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { FunctionName: this.functionName, EndpointName: WEB_ENDPOINT_NAME },
      period: ALARM_PERIOD,
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /**
   * 5xx answers of the endpoint (the server's failures, and a request over the timeout, which a
   * buffered answer gets as 504), at least one in 5 minutes.
   */
  private errorsAlarm(topic: sns.ITopic | undefined): cloudwatch.Alarm {
    return serverAlarm(this, 'ErrorsAlarm', {
      functionName: this.functionName,
      suffix: 'errors',
      metric: this.metric(WEB_5XX_METRIC),
      threshold: 1,
      what: 'the web function answered with a 5xx status at least once in 5 minutes',
      ...(topic === undefined ? {} : { topic }),
    });
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    return this.serverRole.nagAcknowledgments();
  }
}

/** The construct id, at stack level, of the role and log group of the copy function. */
const WEB_CODE_COPY_ID = 'WebFunctionCodeCopy';
/** The construct id, at stack level, of the bucket `fromAssetToManagedBucket` creates. */
const WEB_CODE_BUCKET_ID = 'AWSCDKWebFunctionAssetBucket';

/**
 * What the stack's web functions share to get their code into the code bucket: the role and log
 * group of the copy function (a deployment-time custom resource of the L2 that copies each staged
 * zip into the bucket; one per stack). Its own role may write to its own log group, read the
 * staged zips and write its objects, nothing else (instead of the L2's default role with
 * `AWSLambdaBasicExecutionRole`, which may write to every log group).
 */
export class WebCodeCopy extends Construct implements NagAware {
  /** The stack's one WebCodeCopy, made the first time it is asked for. */
  static of(scope: Construct): WebCodeCopy {
    const stack = cdk.Stack.of(scope);
    const found = stack.node.tryFindChild(WEB_CODE_COPY_ID);
    return found instanceof WebCodeCopy ? found : new WebCodeCopy(stack, WEB_CODE_COPY_ID);
  }

  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: "mcp-fleet: copies the web functions' code into the stack's code bucket at deployment",
    });
    this.logGroup.grantWrite(this.role);
  }

  get copyOptions(): lambda.WebFunctionCodeCopyOptions {
    return { role: this.role, logGroup: this.logGroup };
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = [];
    const bucket = cdk.Stack.of(this).node.tryFindChild(WEB_CODE_BUCKET_ID);
    if (bucket !== undefined) {
      acks.push({
        scope: bucket,
        id: `${NAG_PACK}-S1`,
        reason:
          "the code bucket of the stack's web functions (WebFunctionCode.fromAssetToManagedBucket): it holds only the zips each deployment copies in, written by the copy function and read by the Lambda service for this account's web-function revisions (its bucket policy); every write is a deployment, which CloudFormation and CloudTrail record",
      });
    }
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy instanceof iam.Policy) {
      for (const finding of wildcardFindings(this, policy.document)) {
        acks.push({
          scope: policy,
          id: `${NAG_PACK}-IAM5[${finding}]`,
          reason:
            'the grants the L2 gives its copy function: read the staged zips in the CDK asset bucket (objects named by their hash), write and delete under web-function/ of the stack code bucket, where it puts one object per revision and removes the replaced ones',
        });
      }
    }
    return acks;
  }
}

/** The wildcards of a policy's Allow statements, as cdk-nag's IAM5 names them. */
function wildcardFindings(scope: Construct, document: iam.PolicyDocument): string[] {
  const json = cdk.Stack.of(scope).resolve(document.toJSON()) as
    { Statement?: { Effect?: string; Action?: unknown; Resource?: unknown }[] } | undefined;
  const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const findings = new Set<string>();
  for (const s of json?.Statement ?? []) {
    if (s.Effect !== 'Allow') continue;
    for (const a of list(s.Action)) if (String(a).includes('*')) findings.add(`Action::${String(a)}`);
    for (const r of list(s.Resource)) {
      const flat = nagFinding(scope, r);
      if (flat.includes('*')) findings.add(`Resource::${flat}`);
    }
  }
  return [...findings];
}

function clip(text: string, max = REVISION_DESCRIPTION_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
