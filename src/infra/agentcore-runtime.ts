/**
 * `host: agentcore-runtime`: the server on Amazon Bedrock AgentCore Runtime, one microVM (and one
 * server process, the runtime's session entry) per client session, reached by the gateway as an
 * MCP-server target on the runtime's invoke URL, signed with the gateway's role for
 * `bedrock-agentcore`.
 */
import { createHash } from 'node:crypto';
import * as cdk from 'aws-cdk-lib';
import * as agentcore from 'aws-cdk-lib/aws-bedrockagentcore';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { VendedDelivery } from './observability.js';
import {
  DEFAULTS,
  FUNCTION_NAME_PREFIX,
  RUNTIME_IDLE_TIMEOUT_DEFAULT_S,
  RUNTIME_MAX_LIFETIME_DEFAULT_S,
} from '../config/limits.js';
import type { ServerConfig } from '../config/model.js';
import { FUNCTION_ENV } from '../contract/function-env.js';
import { METRICS_NAMESPACE } from '../contract/metrics.js';
import { LAMBDA_RESERVED_ENV, retentionDays } from './names.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment, type NagAware } from './nag.js';
import {
  ALARM_PERIOD,
  declaredStatements,
  functionSecrets,
  serverAlarm,
  ServerRole,
  type FunctionEnvironment,
  type FunctionSecret,
} from './server-role.js';
import type { ServerArtifact } from './types.js';

/** The file of a direct-code zip the runtime starts: the session entry, as the build writes it. */
export const RUNTIME_ENTRY_POINT = 'index.mjs';
/** The managed runtime of direct code (the only Node.js one AgentCore Runtime has). */
export const RUNTIME_CODE_RUNTIME = agentcore.AgentCoreRuntime.NODE_22;
/** The runtime endpoint the gateway calls: the one AgentCore creates with every runtime. */
export const RUNTIME_QUALIFIER = 'DEFAULT';
/** The SigV4 service of an AgentCore Runtime's invoke URL (AWS's gateway documentation names it). */
export const RUNTIME_SIGNING_SERVICE = 'bedrock-agentcore';
/** AgentCore Runtime's metrics namespace (AWS's observability pages; dimensions from CDK's L2). */
export const RUNTIME_METRICS_NAMESPACE = 'AWS/Bedrock-AgentCore';
/** AgentCore: a runtime name is `^[a-zA-Z][a-zA-Z0-9_]{0,47}$`. */
const RUNTIME_NAME_MAX = 48;
/** AgentCore: a runtime description is 1–1200 characters. */
const RUNTIME_DESCRIPTION_MAX = 1200;
/** AgentCore: at most 50 environment variables, keys `^[a-zA-Z_][a-zA-Z0-9_]*$` of 1–100, values ≤ 2048. */
const RUNTIME_ENV_MAX = 50;
const RUNTIME_ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;
const RUNTIME_ENV_VALUE_MAX = 2048;

/**
 * The props of {@link McpAgentCoreRuntime}: the runtime's own settings, each with its default.
 * {@link agentCoreRuntimeProps} makes them from a server of servers.yaml.
 */
export interface McpAgentCoreRuntimeProps {
  /** The server's id: in the runtime's environment, its alarms' descriptions and its nag reasons. */
  readonly serverId: string;
  /**
   * The runtime's traces, delivered to X-Ray (vended TRACES, under the stack's one X-Ray
   * resource policy rather than the L2's `tracingEnabled`, which makes its own).
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * The build: a direct-code folder (`index.mjs`, the session entry, at its root; NODE_22) or a
   * container build context (a Dockerfile whose image serves MCP on 0.0.0.0:8000 `/mcp`, built
   * for linux/arm64).
   */
  readonly artifact: ServerArtifact;
  /**
   * The name alarms and Powertools' service carry (as a function's would).
   * @default `mcp-server-<serverId>`
   */
  readonly functionName?: string;
  /**
   * The runtime's name (`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`, unique in the account and Region).
   * @default runtimeNameOf(functionName): `mcp_server_<id>`
   */
  readonly runtimeName?: string;
  /**
   * The runtime's description (clipped to 1200 characters).
   * @default `mcp-fleet: <serverId>`
   */
  readonly description?: string;
  /**
   * A session ends after this long without a request (60 s – 8 h).
   * @default cdk.Duration.seconds(900) (AgentCore's)
   */
  readonly idleTimeout?: cdk.Duration;
  /**
   * A session ends this long after it began, idle or not (60 s – 8 h, at least idleTimeout).
   * @default cdk.Duration.seconds(28800) (AgentCore's)
   */
  readonly maxLifetime?: cdk.Duration;
  /**
   * The server's environment as the runtime shows it (it reaches the server through launch.json
   * anyway); keys AgentCore would refuse, and the platform's own (region, credentials), are left out.
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Secrets the role may read, each exactly.
   * @default - none
   */
  readonly secrets?: readonly FunctionSecret[];
  /**
   * Managed policies of the role, by ARN or AWS managed policy name.
   * @default - none
   */
  readonly managedPolicies?: readonly string[];
  /**
   * Statements of the role's own policy (the server's declared permissions).
   * @default - none: the role has the L2's runtime permissions and reads its secrets only
   */
  readonly policyStatements?: readonly iam.PolicyStatement[];
  /**
   * Where the alarms send ALARM and OK notifications.
   * @default - no alarm actions
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * How long the runtime's application logs are kept (its log group, which the runtime's vended
   * log delivery writes to).
   * @default 30 days (mcp-fleet's default, as for functions)
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The construct's props of a `host: agentcore-runtime` server of servers.yaml and its build. */
export function agentCoreRuntimeProps(
  server: ServerConfig,
  artifact: ServerArtifact,
): McpAgentCoreRuntimeProps {
  const session = server.hosting.session;
  return {
    serverId: server.id,
    artifact,
    functionName: server.functionName,
    description: `mcp-fleet: ${server.name}${server.description ? ` (${server.description})` : ''}`,
    idleTimeout: cdk.Duration.seconds(session?.idleTimeout ?? RUNTIME_IDLE_TIMEOUT_DEFAULT_S),
    maxLifetime: cdk.Duration.seconds(session?.maxLifetime ?? RUNTIME_MAX_LIFETIME_DEFAULT_S),
    environment: server.env,
    logRetention: retentionDays(server.aws.logRetentionDays),
    secrets: functionSecrets(server),
    managedPolicies: server.aws.iam.managedPolicies,
    policyStatements: declaredStatements(server),
  };
}

/** The runtime's code: a container built for linux/arm64, or NODE_22 direct code. */
function runtimeArtifact(artifact: ServerArtifact): agentcore.AgentRuntimeArtifact {
  return artifact.kind === 'image'
    ? agentcore.AgentRuntimeArtifact.fromAsset(artifact.dir, { platform: ecrAssets.Platform.LINUX_ARM64 })
    : agentcore.AgentRuntimeArtifact.fromCodeAsset({
        path: artifact.dir,
        runtime: RUNTIME_CODE_RUNTIME,
        entrypoint: [RUNTIME_ENTRY_POINT],
      });
}

/**
 * The runtime name of a function name: `mcp-server-git` → `mcp_server_git` (AgentCore takes
 * letters, digits and `_`); over 48 characters, clipped with a hash of the whole name.
 */
export function runtimeNameOf(functionName: string): string {
  let name = functionName.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z]/.test(name)) name = `r${name}`;
  if (name.length <= RUNTIME_NAME_MAX) return name;
  const hash = createHash('sha256').update(functionName).digest('hex').slice(0, 8);
  return `${name.slice(0, RUNTIME_NAME_MAX - hash.length - 1)}_${hash}`;
}

/**
 * The runtime's invoke URL as the gateway calls it:
 * `https://bedrock-agentcore.<region>.amazonaws.com/runtimes/<URL-encoded runtime ARN>/invocations?qualifier=DEFAULT`.
 * The ARN (`arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<id>`) is only known at
 * deployment, and CloudFormation has no URL encoding: it is written encoded from its parts (`:`
 * as `%3A`, `/` as `%2F`; the id, `[A-Za-z0-9_-]`, needs none).
 */
export function runtimeInvokeUrl(runtimeId: string): string {
  const { PARTITION, REGION, ACCOUNT_ID, URL_SUFFIX } = cdk.Aws;
  const encodedArn = cdk.Fn.join('', [
    'arn%3A',
    PARTITION,
    '%3Abedrock-agentcore%3A',
    REGION,
    '%3A',
    ACCOUNT_ID,
    '%3Aruntime%2F',
    runtimeId,
  ]);
  return cdk.Fn.join('', [
    'https://bedrock-agentcore.',
    REGION,
    '.',
    URL_SUFFIX,
    '/runtimes/',
    encodedArn,
    `/invocations?qualifier=${RUNTIME_QUALIFIER}`,
  ]);
}

/**
 * One MCP server on AgentCore Runtime (L2 `Runtime`), runtime `mcp_server_<id>`: protocol MCP,
 * inbound auth IAM (SigV4; the gateway's role signs), sessions with the configured idle timeout
 * and lifetime; the build's direct code (NODE_22, `index.mjs`) or arm64 image; an execution role
 * trusted by `bedrock-agentcore.amazonaws.com` for this runtime only, that may read exactly the
 * server's secrets and do what the server declared, plus the L2's runtime permissions (its logs,
 * X-Ray, metrics in `bedrock-agentcore`, workload identity, its code); alarms on the runtime's
 * system errors and throttles.
 */
export class McpAgentCoreRuntime extends Construct implements NagAware {
  readonly serverId: string;
  readonly functionName: string;
  readonly runtimeName: string;
  readonly runtime: agentcore.Runtime;
  readonly role: iam.Role;
  /** The server's declared statements, when it declared any. */
  readonly declaredPolicy?: iam.Policy;
  readonly alarms: { errors: cloudwatch.Alarm; throttles: cloudwatch.Alarm };
  /** Where the runtime's application logs are delivered. */
  readonly logGroup: logs.LogGroup;
  /** Keys of the environment left out of the runtime's (they reach the server through launch.json). */
  readonly omittedEnv: string[];
  /** The URL the gateway's MCP-server target calls (see {@link runtimeInvokeUrl}). */
  readonly invokeUrl: string;
  private readonly serverRole: ServerRole;

  constructor(scope: Construct, id: string, props: McpAgentCoreRuntimeProps) {
    super(scope, id);
    this.serverId = props.serverId;
    this.functionName = props.functionName ?? `${FUNCTION_NAME_PREFIX}${props.serverId}`;
    this.runtimeName = props.runtimeName ?? runtimeNameOf(this.functionName);
    const stack = cdk.Stack.of(this);
    this.serverRole = new ServerRole(this, {
      serverId: this.serverId,
      functionName: this.functionName,
      // As the L2's own role: this account's runtimes of this name only (confused deputy).
      assumedBy: new iam.ServicePrincipal('bedrock-agentcore.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'bedrock-agentcore',
              resource: 'runtime',
              resourceName: `${this.runtimeName}-*`,
            }),
          },
        },
      }),
      ...(props.secrets === undefined ? {} : { secrets: props.secrets }),
      ...(props.managedPolicies === undefined ? {} : { managedPolicies: props.managedPolicies }),
      ...(props.policyStatements === undefined ? {} : { policyStatements: props.policyStatements }),
    });
    this.role = this.serverRole.role;
    if (this.serverRole.declaredPolicy !== undefined) this.declaredPolicy = this.serverRole.declaredPolicy;

    const env = runtimeEnvironment(
      this,
      { serverId: this.serverId, functionName: this.functionName },
      props.environment ?? {},
    );
    this.omittedEnv = env.omitted;
    this.logGroup = new logs.LogGroup(this, 'ApplicationLogs', {
      logGroupName: `/aws/vendedlogs/bedrock-agentcore/${this.runtimeName}`,
      retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    const artifact = runtimeArtifact(props.artifact);
    this.runtime = new agentcore.Runtime(this, 'Runtime', {
      runtimeName: this.runtimeName,
      agentRuntimeArtifact: artifact,
      executionRole: this.role,
      description: clip(props.description ?? `mcp-fleet: ${this.serverId}`),
      protocolConfiguration: agentcore.ProtocolType.MCP,
      authorizerConfiguration: agentcore.RuntimeAuthorizerConfiguration.usingIAM(),
      environmentVariables: env.variables,
      lifecycleConfiguration: {
        idleRuntimeSessionTimeout: props.idleTimeout ?? cdk.Duration.seconds(RUNTIME_IDLE_TIMEOUT_DEFAULT_S),
        maxLifetime: props.maxLifetime ?? cdk.Duration.seconds(RUNTIME_MAX_LIFETIME_DEFAULT_S),
      },
      // The server's output (the entry's logs and the server's stderr) delivered to a log group
      // of the stack's, kept as long as a function's: the runtime's own log group is AgentCore's.
      // Under /aws/vendedlogs/, the log-delivery role writes it without a resource policy per
      // runtime (an account has 10).
      loggingConfigs: [
        {
          logType: agentcore.LogType.APPLICATION_LOGS,
          destination: agentcore.LoggingDestination.cloudWatchLogs(this.logGroup),
        },
      ],
      manageDeliveryResourcePolicy: false,
    });
    // The L2 binds its artifact (the asset, and the role's grant to read it) only when the
    // template is written; bound now, the grant is there for the nag acknowledgments to see.
    artifact.bind(this.runtime, this.runtime);
    // The runtime runs as the role: its policies first (the declared ones are a separate policy).
    if (this.declaredPolicy !== undefined) this.runtime.node.addDependency(this.declaredPolicy);
    this.invokeUrl = runtimeInvokeUrl(this.runtime.agentRuntimeId);
    if (props.tracing === true)
      new VendedDelivery(this, 'TraceDelivery', {
        sourceArn: this.runtime.agentRuntimeArn,
        logType: 'TRACES',
      });
    this.alarms = this.createAlarms(props.alarmTopic);
  }

  /** A metric of the runtime's DEFAULT endpoint in `AWS/Bedrock-AgentCore` (the L2's dimensions). */
  metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.runtime.metric(metricName, {
      period: ALARM_PERIOD,
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  private createAlarms(topic: sns.ITopic | undefined): McpAgentCoreRuntime['alarms'] {
    const common = { functionName: this.functionName, ...(topic === undefined ? {} : { topic }) };
    return {
      errors: serverAlarm(this, 'ErrorsAlarm', {
        ...common,
        suffix: 'errors',
        metric: this.metric('SystemErrors'),
        threshold: 1,
        what: 'the AgentCore runtime answered with a server-side error at least once in 5 minutes',
      }),
      throttles: serverAlarm(this, 'ThrottlesAlarm', {
        ...common,
        suffix: 'throttles',
        metric: this.metric('Throttles'),
        threshold: 1,
        what: 'the AgentCore runtime throttled a request at least once in 5 minutes',
      }),
    };
  }

  /**
   * The role's own acknowledgments (declared managed policies and wildcards), and the wildcards
   * of the L2's runtime permissions on its default policy, each by what it is for. A wildcard of
   * any other kind there is not acknowledged.
   */
  nagAcknowledgments(): NagAcknowledgment[] {
    const acks = this.serverRole.nagAcknowledgments();
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (!(policy instanceof iam.Policy)) return acks;
    const doc = cdk.Stack.of(this).resolve(policy.document) as {
      Statement?: { Effect: string; Action: string | string[]; Resource: unknown }[];
    };
    // One finding may come from several grants (`Resource::*`: X-Ray, metrics, the ECR token).
    const findings = new Map<string, Set<string>>();
    const add = (finding: string, why: string): void => {
      findings.set(finding, (findings.get(finding) ?? new Set()).add(why));
    };
    for (const s of doc.Statement ?? []) {
      if (s.Effect !== 'Allow') continue;
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      const resources = Array.isArray(s.Resource) ? (s.Resource as unknown[]) : [s.Resource];
      const why = l2GrantReason(actions);
      if (why === undefined) continue;
      for (const a of actions) if (a.includes('*')) add(`Action::${a}`, why);
      for (const r of resources) {
        const flat = nagFinding(this, r);
        if (flat.includes('*')) add(`Resource::${flat}`, why);
      }
    }
    const of = `the execution role of server ${this.serverId}'s AgentCore runtime`;
    for (const [finding, whys] of findings)
      acks.push({
        scope: policy,
        id: `${NAG_PACK}-IAM5[${finding}]`,
        reason: `${of}: ${[...whys].join('; ')}`,
      });
    return acks;
  }
}

/**
 * Why the AgentCore L2 gives an execution role a wildcard, by the statement's actions; undefined
 * for a statement that is not one of its grants.
 */
function l2GrantReason(actions: readonly string[]): string | undefined {
  const all = (prefix: string): boolean => actions.length > 0 && actions.every((a) => a.startsWith(prefix));
  if (all('logs:'))
    return "the AgentCore L2 grants the runtime log groups (/aws/bedrock-agentcore/runtimes/*, named after the runtime's id, which is known only once it exists) and DescribeLogGroups, as AWS's runtime permissions list them";
  if (all('xray:'))
    return "the AgentCore L2 grants X-Ray's trace actions, which take no resource (AWS's runtime permissions)";
  if (all('cloudwatch:PutMetricData'))
    return 'the AgentCore L2 grants PutMetricData, which takes no resource, limited to the namespace bedrock-agentcore by a condition';
  if (all('bedrock-agentcore:GetWorkloadAccessToken'))
    return "the AgentCore L2 grants workload access tokens of this account's default workload identity directory (AWS's runtime permissions)";
  if (all('ecr:'))
    return 'the AgentCore L2 grants pulling its image from the CDK asset repository, and ecr:GetAuthorizationToken, which takes no resource';
  if (all('s3:'))
    return 'the AgentCore L2 grants reading its direct code, an object of the CDK asset bucket (objects named by their hash)';
  return undefined;
}

/**
 * The server's env as the runtime shows it (it reaches the server through launch.json anyway),
 * plus the server id and Powertools' settings. Left out: keys AgentCore refuses (pattern, value
 * over 2048 characters) and the platform's own (region, credentials, Lambda's names); over 50
 * variables, every key of the server's own, with a warning on `scope`.
 */
export function runtimeEnvironment(
  scope: Construct,
  ids: { serverId: string; functionName: string },
  environment: Readonly<Record<string, string>>,
): FunctionEnvironment {
  const own: Record<string, string> = {
    [FUNCTION_ENV.serverId]: ids.serverId,
    [FUNCTION_ENV.serviceName]: ids.functionName,
    [FUNCTION_ENV.metricsNamespace]: METRICS_NAMESPACE,
  };
  const omitted: string[] = [];
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) {
    const refused = !RUNTIME_ENV_KEY.test(key) || value.length > RUNTIME_ENV_VALUE_MAX;
    if (refused || LAMBDA_RESERVED_ENV.has(key) || key in own) omitted.push(key);
    else env[key] = value;
  }
  if (Object.keys(env).length + Object.keys(own).length > RUNTIME_ENV_MAX) {
    omitted.push(...Object.keys(env));
    cdk.Annotations.of(scope).addWarningV2(
      'mcp-fleet:envTooLarge',
      `the env of ${ids.serverId} has more than AgentCore Runtime's ${RUNTIME_ENV_MAX} environment variables; it reaches the server through launch.json only`,
    );
    return { variables: own, omitted };
  }
  return { variables: { ...env, ...own }, omitted };
}

function clip(text: string, max = RUNTIME_DESCRIPTION_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
