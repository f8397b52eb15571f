/**
 * What every host of a server gives it the same way: its execution role (its logs, its secrets,
 * what it declared, nothing else), its environment as the function shows it, and its alarms'
 * shape. {@link McpServerFunction} (event functions, on Lambda or on managed instances) and
 * {@link McpWebFunction} (Web Functions) create these in their own scope, under the same ids.
 */
import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { ServerConfig } from '../config/model.js';
import { FUNCTION_ENV } from '../contract/function-env.js';
import { METRICS_NAMESPACE } from '../contract/metrics.js';
import { LAMBDA_ENV_MAX_BYTES, LAMBDA_RESERVED_ENV, secretsManagerArn, ssmParameterArn } from './names.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment } from './nag.js';

/** The managed policy a function in a VPC needs for its network interfaces (ec2 ENI actions only). */
export const VPC_ENI_POLICY = 'service-role/AWSLambdaENIManagementAccess';
/** The period every alarm looks at. */
export const ALARM_PERIOD = cdk.Duration.minutes(5);

/** A secret the function's role may read (the server reads it at start). */
export type FunctionSecret =
  | { readonly ssmParameter: string }
  /** A Secrets Manager secret by name or ARN. */
  | { readonly secretsManagerSecret: string };

/** The secrets a server of servers.yaml reads, as its role's grants. */
export function functionSecrets(server: ServerConfig): FunctionSecret[] {
  return Object.values(server.secrets).map((ref) =>
    ref.source === 'ssm' ? { ssmParameter: ref.parameter } : { secretsManagerSecret: ref.secret },
  );
}

/** The statements a server of servers.yaml declares (`aws.iam.statements`). */
export function declaredStatements(server: ServerConfig): iam.PolicyStatement[] {
  return server.aws.iam.statements.map(
    (s) =>
      new iam.PolicyStatement({
        effect: s.effect === 'Deny' ? iam.Effect.DENY : iam.Effect.ALLOW,
        actions: s.actions,
        resources: s.resources,
        ...(s.conditions === undefined ? {} : { conditions: s.conditions }),
      }),
  );
}

export interface ServerRoleProps {
  readonly serverId: string;
  /** The function (or runtime) the role runs (its description names it). */
  readonly functionName: string;
  /**
   * The log group the role may write to.
   * @default - none (an AgentCore Runtime's log group is named after the runtime's id: the CDK L2
   * grants its execution role the runtime log groups)
   */
  readonly logGroup?: logs.LogGroup;
  /**
   * Who assumes the role.
   * @default lambda.amazonaws.com
   */
  readonly assumedBy?: iam.IPrincipal;
  readonly secrets?: readonly FunctionSecret[];
  readonly managedPolicies?: readonly string[];
  readonly policyStatements?: readonly iam.PolicyStatement[];
  /** Whether the function runs in a VPC (it then gets {@link VPC_ENI_POLICY}). */
  readonly inVpc?: boolean;
}

/**
 * A server's execution role, made in `scope` as `Role` (with `ManagedPolicy<n>` and
 * `DeclaredPolicy` beside it): trusted by `lambda.amazonaws.com` (or `assumedBy`), it may write to its log group,
 * read exactly the server's secrets, and do what the server declared; nothing else.
 */
export class ServerRole {
  readonly role: iam.Role;
  /** The server's declared statements, when it declared any. */
  readonly declaredPolicy?: iam.Policy;
  private readonly serverId: string;
  private readonly scope: Construct;
  private readonly statements: readonly iam.PolicyStatement[];
  private readonly managedPolicies: { name: string; policy: iam.IManagedPolicy; declared: boolean }[] = [];

  constructor(scope: Construct, props: ServerRoleProps) {
    this.scope = scope;
    this.serverId = props.serverId;
    this.statements = props.policyStatements ?? [];
    this.role = new iam.Role(scope, 'Role', {
      assumedBy: props.assumedBy ?? new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `mcp-fleet: execution role of ${props.functionName}`,
    });
    props.logGroup?.grantWrite(this.role);
    this.grantSecrets(props.secrets ?? []);
    this.addManagedPolicies(props.managedPolicies ?? [], props.inVpc === true);
    if (this.statements.length > 0) {
      this.declaredPolicy = new iam.Policy(scope, 'DeclaredPolicy', {
        roles: [this.role],
        statements: [...this.statements],
      });
    }
  }

  /** The declared managed policies on the role, and the ENI policy a function in a VPC needs. */
  private addManagedPolicies(names: readonly string[], inVpc: boolean): void {
    for (const [i, name] of names.entries()) {
      const policy = name.startsWith('arn:')
        ? iam.ManagedPolicy.fromManagedPolicyArn(this.scope, `ManagedPolicy${i}`, name)
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

  /**
   * `ssm:GetParameter` on exactly each SSM parameter and `secretsmanager:GetSecretValue` on exactly
   * each secret the server reads at start.
   */
  private grantSecrets(secrets: readonly FunctionSecret[]): void {
    const byAction = new Map<string, string[]>();
    for (const secret of secrets) {
      const { action, resource } =
        'ssmParameter' in secret
          ? { action: 'ssm:GetParameter', resource: ssmParameterArn(this.scope, secret.ssmParameter) }
          : {
              action: 'secretsmanager:GetSecretValue',
              resource: secretsManagerArn(this.scope, secret.secretsManagerSecret),
            };
      const list = byAction.get(action) ?? [];
      if (!list.includes(resource)) list.push(resource);
      byAction.set(action, list);
    }
    for (const [action, resources] of byAction) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [action], resources }));
    }
  }

  /** AWS managed policies (IAM4) and wildcards of declared Allow statements (IAM5), each with its reason. */
  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = [];
    const id = this.serverId;
    for (const { name, policy, declared } of this.managedPolicies) {
      const finding = `Policy::${nagFinding(this.scope, policy.managedPolicyArn)}`;
      if (!finding.includes(':iam::aws:')) continue;
      acks.push({
        scope: this.role,
        id: `${NAG_PACK}-IAM4[${finding}]`,
        reason: !declared
          ? `server ${id} runs in a VPC: Lambda creates and deletes its network interfaces with this role, and ${VPC_ENI_POLICY} grants exactly those ec2 ENI actions`
          : `server ${id} declares the AWS managed policy ${name} in servers.yaml (aws.iam.managedPolicies)`,
      });
    }
    if (this.declaredPolicy === undefined) return acks;
    const findings = new Set<string>();
    for (const s of this.statements) {
      if (s.effect !== iam.Effect.ALLOW) continue;
      for (const a of s.actions) if (a.includes('*')) findings.add(`Action::${a}`);
      for (const r of s.resources) {
        const flat = nagFinding(this.scope, r);
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
    return acks;
  }
}

/** A function's environment and the keys of the server's env left out of it. */
export interface FunctionEnvironment {
  readonly variables: Record<string, string>;
  readonly omitted: string[];
}

/**
 * The server's env as the function shows it (it reaches the server through launch.json anyway;
 * here it is visible in the console) without the keys Lambda reserves (and, for a web function,
 * every `AWS_LAMBDA_*` key, which it refuses), plus the server id and Powertools' settings. Over
 * Lambda's 4 KB the server's own keys are left out, with a warning on `scope`.
 */
export function functionEnvironment(
  scope: Construct,
  ids: { serverId: string; functionName: string },
  environment: Readonly<Record<string, string>>,
  options: { stream?: boolean; reservedPrefix?: string } = {},
): FunctionEnvironment {
  const own: Record<string, string> = {
    [FUNCTION_ENV.serverId]: ids.serverId,
    // The runtime's Telemetry names its service `mcp-server-<id>`, as the local fleet does.
    [FUNCTION_ENV.serviceName]: ids.functionName,
    [FUNCTION_ENV.metricsNamespace]: METRICS_NAMESPACE,
  };
  if (options.stream === true) own[FUNCTION_ENV.responseStream] = 'true';
  const omitted: string[] = [];
  const env: Record<string, string> = {};
  const reserved = (key: string): boolean =>
    LAMBDA_RESERVED_ENV.has(key) ||
    key in own ||
    (options.reservedPrefix !== undefined && key.startsWith(options.reservedPrefix));
  for (const [key, value] of Object.entries(environment)) {
    if (reserved(key)) omitted.push(key);
    else env[key] = value;
  }
  const size = (e: Record<string, string>): number =>
    Object.entries(e).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size({ ...env, ...own }) > LAMBDA_ENV_MAX_BYTES) {
    omitted.push(...Object.keys(env));
    cdk.Annotations.of(scope).addWarningV2(
      'mcp-fleet:envTooLarge',
      `the env of ${ids.serverId} is over Lambda's ${LAMBDA_ENV_MAX_BYTES} bytes of environment; it reaches the server through launch.json only`,
    );
    return { variables: own, omitted };
  }
  return { variables: { ...env, ...own }, omitted };
}

/** One alarm of a server: `<functionName>-<suffix>`, over {@link ALARM_PERIOD}. */
export interface ServerAlarmProps {
  readonly functionName: string;
  readonly suffix: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /** What it means, for its description. */
  readonly what: string;
  /** Where it sends ALARM and OK notifications. */
  readonly topic?: sns.ITopic;
}

/**
 * An alarm at or above the threshold in one period; missing data is not breaching (Lambda's
 * metrics are sparse: no data point when nothing happened).
 */
export function serverAlarm(scope: Construct, id: string, props: ServerAlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmName: `${props.functionName}-${props.suffix}`,
    alarmDescription: `mcp-fleet: ${props.what} (${props.functionName})`,
    metric: props.metric,
    threshold: props.threshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  if (props.topic !== undefined) {
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.topic));
    alarm.addOkAction(new cloudwatchActions.SnsAction(props.topic));
  }
  return alarm;
}
