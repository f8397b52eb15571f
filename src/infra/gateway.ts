import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as agentcore from 'aws-cdk-lib/aws-bedrockagentcore';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { DEFAULTS } from '../config/limits.js';
import type { FleetConfig, ServerConfig } from '../config/model.js';
import { cfnRateLimit } from '../config/rate-limits.js';
import { NAG_PACK, nagFinding, type NagAcknowledgment, type NagAware } from './nag.js';
import { retentionDays } from './names.js';
import { VendedDelivery } from './observability.js';
import type { McpServerFunction } from './server-function.js';
import { toToolDefinitions } from './tool-schema.js';
import type { LoweredTool } from './types.js';
import type { McpWebFunction } from './web-function.js';
import { RUNTIME_SIGNING_SERVICE, type McpAgentCoreRuntime } from './agentcore-runtime.js';

/** MCP protocol versions the gateway offers, oldest first. */
export const MCP_PROTOCOL_VERSIONS: readonly agentcore.MCPProtocolVersion[] = [
  agentcore.MCPProtocolVersion.MCP_2025_03_26,
  agentcore.MCPProtocolVersion.MCP_2025_06_18,
  agentcore.MCPProtocolVersion.MCP_2025_11_25,
  agentcore.MCPProtocolVersion.MCP_2026_07_28,
];
/** The OAuth scope (on the resource server named after the gateway) the machine client gets. */
export const GATEWAY_OAUTH_SCOPE = 'invoke';
/** AgentCore: gateway and target descriptions are at most 200 characters. */
const DESCRIPTION_MAX = 200;
/** Cognito: a domain prefix is at most 63 characters and may not contain these words. */
const DOMAIN_PREFIX_MAX = 63;
const DOMAIN_RESERVED = /aws|amazon|cognito/g;

/** How callers of the gateway authenticate. */
export type GatewayAuth = 'cognito' | 'iam' | 'none';

/** The props of {@link McpFleetGateway}; {@link gatewayProps} makes them from servers.yaml's `gateway:`. */
export interface McpFleetGatewayProps {
  /**
   * The gateway's name (also its Cognito pool's, client's and resource server's).
   * @default 'mcp-fleet'
   */
  readonly gatewayName?: string;
  /**
   * Inbound auth: a Cognito machine client (client credentials), SigV4 (IAM), or none.
   * @default 'cognito'
   */
  readonly auth?: GatewayAuth;
  /**
   * The gateway's description (clipped to 200 characters).
   * @default - none
   */
  readonly description?: string;
  /**
   * Instructions the gateway gives MCP clients.
   * @default - none
   */
  readonly instructions?: string;
  /**
   * Semantic tool search (`x_amz_bedrock_agentcore_search`).
   * @default false
   */
  readonly search?: boolean;
  /**
   * MCP protocol versions the gateway accepts.
   * @default MCP_PROTOCOL_VERSIONS
   */
  readonly supportedVersions?: readonly agentcore.MCPProtocolVersion[];
  /**
   * The policy engine the gateway consults (AgentCore Policy), and in which mode.
   * @default - none: every caller may call every tool
   */
  readonly policyEngine?: agentcore.GatewayPolicyEngineConfig;
  /**
   * MCP sessions (`sessionConfiguration`, 900–28800 s from a client's first initialize): the
   * gateway keeps a session per client and reuses its session with each MCP-server target.
   * @default - no sessions
   */
  readonly sessionTimeout?: cdk.Duration;
  /**
   * Response streaming (`streamingConfiguration.enableResponseStreaming`): progress and log
   * messages of MCP-server targets stream to the caller, and with sessions a server's questions to
   * its client (elicitation, sampling) are relayed.
   * @default false
   */
  readonly responseStreaming?: boolean;
  /**
   * Rate limits (`AWS::BedrockAgentCore::GatewayRateLimit`, L1 only in aws-cdk-lib 2.276), each
   * as CloudFormation has it less the gateway; {@link cfnRateLimit} makes one from servers.yaml.
   * @default - none
   */
  readonly rateLimits?: readonly McpFleetRateLimit[];
  /**
   * The gateway's traces, delivered to X-Ray (vended TRACES; the L2 has no tracing setting).
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * The gateway's application logs, delivered to a log group of the stack
   * (`/aws/vendedlogs/bedrock-agentcore/gateway/<name>`).
   * @default true
   */
  readonly logs?: boolean;
  /**
   * How long that log group keeps them.
   * @default DEFAULTS.logRetentionDays
   */
  readonly logRetention?: logs.RetentionDays;
}

/** One gateway rate limit, as `CfnGatewayRateLimit` takes it (without the gateway). */
export type McpFleetRateLimit = ReturnType<typeof cfnRateLimit>;

/** The gateway's props of servers.yaml's `gateway:` settings. */
export function gatewayProps(settings: FleetConfig['gateway']): McpFleetGatewayProps {
  return {
    gatewayName: settings.name,
    auth: settings.auth,
    search: settings.search,
    ...(settings.description === undefined ? {} : { description: settings.description }),
    ...(settings.instructions === undefined ? {} : { instructions: settings.instructions }),
    ...(settings.sessionTimeout === undefined
      ? {}
      : { sessionTimeout: cdk.Duration.seconds(settings.sessionTimeout) }),
    ...(settings.rateLimits === undefined || settings.rateLimits.length === 0
      ? {}
      : { rateLimits: settings.rateLimits.map(cfnRateLimit) }),
    responseStreaming: settings.responseStreaming,
    tracing: settings.tracing,
    logs: settings.logs,
  };
}

/** A server's target on the gateway; {@link gatewayTargetProps} makes it from a server of servers.yaml. */
export interface McpFleetTargetProps {
  /** The target's name: the `<target>___` prefix of its tools. */
  readonly name: string;
  /**
   * The target's description (clipped to 200 characters).
   * @default - none
   */
  readonly description?: string;
  /**
   * MCP-server targets: `default` (the gateway lists and caches the tools) or `dynamic` (listed live).
   * @default 'default'
   */
  readonly listingMode?: 'default' | 'dynamic';
  /**
   * MCP-server targets: resource URI collisions go to the lowest value.
   * @default 1000
   */
  readonly resourcePriority?: number;
  /**
   * Web functions: the SigV4 service the gateway's role signs its calls to the endpoint for. No
   * AWS source names the service of a Web Function endpoint; `lambda` is the service of its IAM
   * action (`lambda:InvokeWebFunctionEndpoint`) and of CloudFront's signing for it.
   * @default 'lambda'
   */
  readonly signingService?: string;
}

/** The target props of a server of servers.yaml. */
export function gatewayTargetProps(server: ServerConfig): McpFleetTargetProps {
  const { target, description, listingMode, resourcePriority, signingService } = server.gateway;
  return {
    name: target,
    description,
    listingMode,
    resourcePriority,
    ...(server.hosting.host === 'web-function' ? { signingService } : {}),
  };
}

/** What a client of a Cognito-protected gateway needs. */
export interface GatewayCognito {
  readonly userPool: cognito.UserPool;
  /** The machine client (client-credentials grant, with a secret). */
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  readonly resourceServer: cognito.UserPoolResourceServer;
  /** The full scope to ask for: `<gateway name>/invoke`. */
  readonly scope: string;
  /** `https://<domain>.auth.<region>.amazoncognito.com/oauth2/token` */
  readonly tokenEndpoint: string;
}

/**
 * The AgentCore gateway in front of the fleet: MCP protocol settings, inbound auth (a Cognito
 * machine client, IAM, or none) and one Lambda target per server with its tool schema (inline, or
 * an S3 object when too large for the template).
 */
export class McpFleetGateway extends Construct implements NagAware {
  readonly gateway: agentcore.Gateway;
  readonly auth: GatewayAuth;
  readonly cognito?: GatewayCognito;
  /** Server id → its target. */
  readonly targets = new Map<string, agentcore.GatewayTarget>();
  /** Rate limit id → its resource. */
  readonly rateLimits = new Map<string, agentcore.CfnGatewayRateLimit>();
  /** Where the gateway's application logs go, unless `logs: false`. */
  readonly logGroup?: logs.LogGroup;
  private readonly invoked: McpServerFunction[] = [];
  /** Functions reached as MCP-server targets, through their Function URLs. */
  private readonly urlInvoked: McpServerFunction[] = [];
  /** AgentCore runtimes reached as MCP-server targets. */
  private readonly runtimeInvoked: McpAgentCoreRuntime[] = [];

  constructor(scope: Construct, id: string, props: McpFleetGatewayProps) {
    super(scope, id);
    const name = props.gatewayName ?? DEFAULTS.gatewayName;
    this.auth = props.auth ?? DEFAULTS.gatewayAuth;
    let authorizerConfiguration: agentcore.IGatewayAuthorizerConfig;
    if (this.auth === 'cognito') {
      this.cognito = this.createCognito(name);
      // Cognito access tokens carry client_id, not aud: the gateway checks the client.
      authorizerConfiguration = agentcore.GatewayAuthorizer.usingCognito({
        userPool: this.cognito.userPool,
        allowedClients: [this.cognito.client],
      });
    } else if (this.auth === 'iam') {
      authorizerConfiguration = agentcore.GatewayAuthorizer.usingAwsIam();
    } else {
      authorizerConfiguration = agentcore.GatewayAuthorizer.withNoAuth();
      cdk.Annotations.of(this).addWarningV2(
        'mcp-fleet:gatewayWithoutAuth',
        `gateway ${name} has auth: none; anyone who knows its URL can call every tool`,
      );
    }

    this.gateway = new agentcore.Gateway(this, 'Gateway', {
      gatewayName: name,
      ...(props.description === undefined ? {} : { description: clip(props.description) }),
      protocolConfiguration: agentcore.GatewayProtocol.mcp({
        supportedVersions: [...(props.supportedVersions ?? MCP_PROTOCOL_VERSIONS)],
        ...(props.search === true ? { searchType: agentcore.McpGatewaySearchType.SEMANTIC } : {}),
        ...(props.instructions === undefined ? {} : { instructions: props.instructions }),
      }),
      authorizerConfiguration,
      ...(props.policyEngine === undefined ? {} : { policyEngineConfiguration: props.policyEngine }),
    });
    if (props.sessionTimeout !== undefined) {
      // Not in the L2's McpConfiguration (aws-cdk-lib 2.276): CfnGateway's
      // MCPGatewayConfiguration.SessionConfiguration, set on the L1.
      const cfn = this.gateway.node.defaultChild as agentcore.CfnGateway;
      cfn.addPropertyOverride(
        'ProtocolConfiguration.Mcp.SessionConfiguration.SessionTimeoutInSeconds',
        props.sessionTimeout.toSeconds(),
      );
    }
    if (props.responseStreaming === true) {
      // Not in the L2 either: MCPGatewayConfiguration.StreamingConfiguration, on the L1.
      const cfn = this.gateway.node.defaultChild as agentcore.CfnGateway;
      cfn.addPropertyOverride(
        'ProtocolConfiguration.Mcp.StreamingConfiguration.EnableResponseStreaming',
        true,
      );
    }
    for (const limit of props.rateLimits ?? []) {
      const resource = new agentcore.CfnGatewayRateLimit(this, `RateLimit-${limit.rateLimitId}`, {
        ...limit,
        gatewayIdentifier: this.gateway.gatewayId,
      });
      this.rateLimits.set(limit.rateLimitId, resource);
    }
    if (props.logs !== false) {
      this.logGroup = new logs.LogGroup(this, 'ApplicationLogs', {
        logGroupName: `/aws/vendedlogs/bedrock-agentcore/gateway/${name}`,
        retention: props.logRetention ?? retentionDays(DEFAULTS.logRetentionDays),
        removalPolicy: cdk.RemovalPolicy.DESTROY,
      });
      new VendedDelivery(this, 'LogDelivery', {
        sourceArn: this.gateway.gatewayArn,
        logType: 'APPLICATION_LOGS',
        logGroup: this.logGroup,
      });
    }
    if (props.tracing !== false)
      new VendedDelivery(this, 'TraceDelivery', { sourceArn: this.gateway.gatewayArn, logType: 'TRACES' });
  }

  /** The gateway's MCP endpoint, `https://<id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp`. */
  get url(): string {
    const url = this.gateway.gatewayUrl;
    if (url === undefined) throw new Error('the gateway has no URL attribute');
    return url;
  }

  /**
   * Adds the server's function as a Lambda target. The gateway's role
   * may invoke it (the L2 grants that). An `s3` schema is uploaded as an asset; the role may read
   * exactly that object.
   */
  addServer(
    fn: McpServerFunction,
    props: McpFleetTargetProps,
    tools: readonly LoweredTool[],
    options: { schema: 'inline' | 's3'; toolsFile?: string },
  ): agentcore.GatewayTarget {
    const id = fn.serverId;
    let toolSchema: agentcore.ToolSchema;
    if (options.schema === 'inline') {
      toolSchema = agentcore.ToolSchema.fromInline(toToolDefinitions(props.name, tools));
    } else {
      const file = options.toolsFile ?? writeToolsFile(id, tools);
      const asset = new s3assets.Asset(this, `ToolSchema-${id}`, { path: file });
      toolSchema = agentcore.ToolSchema.fromS3File(asset.bucket, asset.s3ObjectKey);
    }
    const target = this.gateway.addLambdaTarget(`Target-${id}`, {
      gatewayTargetName: props.name,
      ...(props.description === undefined ? {} : { description: clip(props.description) }),
      lambdaFunction: fn.function,
      toolSchema,
    });
    this.targets.set(id, target);
    this.invoked.push(fn);
    return target;
  }

  /**
   * Adds the server's function as an MCP-server target on its Function URL (AWS_IAM), signed with
   * the gateway's own role for service `lambda`; the role may invoke exactly that URL. The gateway
   * lists the tools itself (listingMode), so no tool schema is declared.
   */
  addMcpServer(fn: McpServerFunction, props: McpFleetTargetProps): agentcore.GatewayTarget {
    const url = fn.functionUrl;
    if (url === undefined) throw new Error(`server ${fn.serverId} is an mcp target but has no Function URL`);
    const target = this.mcpServerTarget(fn.serverId, url.url, 'lambda', props);
    // lambda:InvokeFunctionUrl (and lambda:InvokeFunction via the URL) on this function only.
    fn.function.grantInvokeUrl(this.gateway.role);
    this.urlInvoked.push(fn);
    return target;
  }

  /**
   * Adds a web function as an MCP-server target on its endpoint (`https://<domain>/mcp`, IamAuth),
   * signed with the gateway's own role for `props.signingService` (default `lambda`). The
   * credential provider grants nothing: the role is granted `lambda:InvokeWebFunctionEndpoint` on
   * exactly that endpoint.
   */
  addWebFunction(fn: McpWebFunction, props: McpFleetTargetProps): agentcore.GatewayTarget {
    const service = props.signingService ?? DEFAULTS.webFunctionSigningService;
    const target = this.mcpServerTarget(fn.serverId, fn.url, service, props);
    fn.webFunction.endpoint.grants.invoke(this.gateway.role);
    return target;
  }

  /**
   * Adds an AgentCore runtime as an MCP-server target on its invoke URL (qualifier DEFAULT),
   * signed with the gateway's own role for `bedrock-agentcore`. The credential provider grants
   * nothing: the role is granted `bedrock-agentcore:InvokeAgentRuntime` on exactly that runtime
   * (and its endpoints).
   */
  addRuntime(rt: McpAgentCoreRuntime, props: McpFleetTargetProps): agentcore.GatewayTarget {
    const target = this.mcpServerTarget(rt.serverId, rt.invokeUrl, RUNTIME_SIGNING_SERVICE, props);
    rt.runtime.grantInvokeRuntime(this.gateway.role);
    this.runtimeInvoked.push(rt);
    return target;
  }

  /** An MCP-server target on `endpoint`, signed with the gateway's role for `service`. */
  private mcpServerTarget(
    id: string,
    endpoint: string,
    service: string,
    props: McpFleetTargetProps,
  ): agentcore.GatewayTarget {
    const target = agentcore.GatewayTarget.forMcpServer(this, `Target-${id}`, {
      gateway: this.gateway,
      gatewayTargetName: props.name,
      ...(props.description === undefined ? {} : { description: clip(props.description) }),
      endpoint,
      credentialProviderConfigurations: [agentcore.GatewayCredentialProvider.fromIamRole({ service })],
    });
    // Not in the L2's props (aws-cdk-lib 2.276): the listing mode and the resource priority.
    const cfn = target.node.defaultChild as agentcore.CfnGatewayTarget;
    cfn.addPropertyOverride(
      'TargetConfiguration.Mcp.McpServer.ListingMode',
      props.listingMode === 'dynamic' ? 'DYNAMIC' : 'DEFAULT',
    );
    cfn.addPropertyOverride(
      'TargetConfiguration.Mcp.McpServer.ResourcePriority',
      props.resourcePriority ?? DEFAULTS.resourcePriority,
    );
    // With listing mode DEFAULT the gateway lists the server's tools when it creates the target,
    // signed with its role: the role's grant to call the endpoint must be in place by then.
    target.node.addDependency(this.gateway.role);
    this.targets.set(id, target);
    return target;
  }

  private createCognito(gatewayName: string): GatewayCognito {
    // Only a machine client signs in (client credentials); the pool has no users. Its user-facing
    // settings are still the strict ones, so that adding users later starts from a safe pool.
    const userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${gatewayName}-gateway`,
      selfSignUpEnabled: false,
      signInCaseSensitive: false,
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
      },
      accountRecovery: cognito.AccountRecovery.NONE,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: false,
      // Nothing to keep: no users, and clients get new credentials from the next deployment.
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    const scope = new cognito.ResourceServerScope({
      scopeName: GATEWAY_OAUTH_SCOPE,
      scopeDescription: `Call the tools of gateway ${gatewayName}`,
    });
    const resourceServer = userPool.addResourceServer('ResourceServer', {
      identifier: gatewayName,
      userPoolResourceServerName: gatewayName,
      scopes: [scope],
    });
    const client = userPool.addClient('MachineClient', {
      userPoolClientName: `${gatewayName}-machine`,
      generateSecret: true,
      authFlows: {},
      preventUserExistenceErrors: true,
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      oAuth: {
        flows: { clientCredentials: true },
        scopes: [cognito.OAuthScope.resourceServer(resourceServer, scope)],
      },
    });
    const domain = userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: this.domainPrefix(gatewayName) },
    });
    return {
      userPool,
      client,
      domain,
      resourceServer,
      scope: `${gatewayName}/${GATEWAY_OAUTH_SCOPE}`,
      tokenEndpoint: `${domain.baseUrl()}/oauth2/token`,
    };
  }

  /**
   * A Cognito domain prefix unique per account, region and stack: the gateway name without the
   * words Cognito reserves, a hash of the stack name, the account id.
   */
  private domainPrefix(gatewayName: string): string {
    const stack = cdk.Stack.of(this);
    const hash = createHash('sha256').update(stack.stackName).digest('hex').slice(0, 6);
    const room = DOMAIN_PREFIX_MAX - hash.length - 12 - 2;
    const base =
      gatewayName
        .toLowerCase()
        .replace(DOMAIN_RESERVED, '')
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/-+/g, '-')
        .slice(0, room)
        .replace(/^-+|-+$/g, '') || 'mcp-fleet';
    return cdk.Fn.join('-', [base, hash, cdk.Aws.ACCOUNT_ID]);
  }

  nagAcknowledgments(): NagAcknowledgment[] {
    const acks: NagAcknowledgment[] = this.invoked.map((fn) => ({
      scope: this.gateway.role,
      id: `${NAG_PACK}-IAM5[Resource::${nagFinding(this, fn.function.functionArn)}:*]`,
      reason: `the gateway role may invoke ${fn.functionName} and its versions and aliases (ARN:*), that one function only; the grant comes from the AgentCore L2's Lambda target`,
    }));
    for (const rt of this.runtimeInvoked) {
      acks.push({
        scope: this.gateway.role,
        id: `${NAG_PACK}-IAM5[Resource::${nagFinding(this, rt.runtime.agentRuntimeArn)}/*]`,
        reason: `the gateway role may invoke the AgentCore runtime ${rt.runtimeName} and its endpoints (ARN/*: the DEFAULT endpoint the gateway calls is runtime/<id>/runtime-endpoint/DEFAULT), that one runtime only; the grant is the AgentCore L2's grantInvokeRuntime`,
      });
    }
    if (this.cognito !== undefined) {
      acks.push({
        scope: this.cognito.userPool,
        id: `${NAG_PACK}-COG8`,
        reason:
          'the pool has no users: only the machine client signs in, with the client-credentials grant; the Plus plan adds threat protection for user sign-ins and passwords, which never happen here, at a per-user price',
      });
    }
    return acks;
  }
}

function clip(text: string, max = DESCRIPTION_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The tools as a JSON array in a fresh temporary file, when the build gave no file. */
function writeToolsFile(serverId: string, tools: readonly LoweredTool[]): string {
  const file = path.join(cdk.FileSystem.mkdtemp(`mcp-fleet-tools-${serverId}-`), 'tools.json');
  writeFileSync(file, JSON.stringify(tools));
  return file;
}
