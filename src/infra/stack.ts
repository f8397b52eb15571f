import { existsSync } from 'node:fs';
import path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { GATEWAY_MAX_TARGETS } from '../config/limits.js';
import { McpFleetDashboard } from './dashboard.js';
import { gatewayProps, gatewayTargetProps, McpFleetGateway } from './gateway.js';
import { checkHosts } from './hosts.js';
import { agentCoreRuntimeProps, McpAgentCoreRuntime } from './agentcore-runtime.js';
import {
  endpointUrlOutputId,
  functionUrlOutputId,
  lambdaArnOutputId,
  runtimeArnOutputId,
  runtimeInvokeUrlOutputId,
  webFunctionArnOutputId,
} from './names.js';
import { McpServerFunction, serverFunctionProps } from './server-function.js';
import { placeToolSchemas, toToolDefinitions, ToolSchemaError } from './tool-schema.js';
import type { BuiltServer, FleetStackProps } from './types.js';
import { OUTPUTS } from './outputs.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { McpFleetPolicy } from './policy.js';
import { tagFleet, tagServer } from './tags.js';
import { interceptorPropsFrom, McpFleetInterceptor } from './interceptors.js';
import { INTERCEPTOR_TAG } from '../config/interceptors.js';
import { McpWebFunction, webFunctionProps } from './web-function.js';

/** Problems with the stack's input; every one is listed. */
export class FleetStackError extends FleetError {
  constructor(readonly problems: readonly string[]) {
    super(FLEET_ERROR.stackInvalid, `cannot define the fleet stack:\n  ${problems.join('\n  ')}`);
    this.name = 'FleetStackError';
  }
}

/**
 * The whole fleet in one stack: a {@link McpServerFunction} per enabled server of host `function`
 * or `managed-instances` (then on a capacity provider of its own), a {@link McpWebFunction} per
 * server of host `web-function`, a {@link McpAgentCoreRuntime} per server of host
 * `agentcore-runtime`, the {@link McpFleetGateway} with a target per server that has tools (with
 * MCP sessions when `gateway.sessionTimeout` is set), the {@link McpFleetDashboard}, and outputs:
 * `Mcp<Id>LambdaArn` per event function (the seed deployment's names), `Mcp<Id>FunctionUrl` where
 * enabled, `Mcp<Id>WebFunctionArn` and `Mcp<Id>EndpointUrl` per web function,
 * `Mcp<Id>RuntimeArn` and `Mcp<Id>RuntimeInvokeUrl` per runtime, the gateway's URL, id and client
 * config, and for Cognito auth the user pool, client id, scope and token endpoint.
 */
export class McpFleetStack extends cdk.Stack {
  readonly fleet: FleetStackProps['fleet'];
  /** Server id → its event function (host `function` or `managed-instances`). */
  readonly functions = new Map<string, McpServerFunction>();
  /** Server id → its web function (host `web-function`). */
  readonly webFunctions = new Map<string, McpWebFunction>();
  /** Server id → its AgentCore runtime (host `agentcore-runtime`). */
  readonly runtimes = new Map<string, McpAgentCoreRuntime>();
  readonly gateway: McpFleetGateway;
  readonly dashboard: McpFleetDashboard;
  /** The policy engine and policies, when the fleet has `policy:`. */
  readonly policy?: McpFleetPolicy;
  /** The gateway's interceptor functions (`gateway.interceptors`). */
  readonly interceptors: McpFleetInterceptor[] = [];
  /** Server id → where its tool schema went. */
  readonly schemaPlacement: ReadonlyMap<string, 'inline' | 's3'>;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    const {
      fleet,
      servers,
      alarmTopic,
      runtime,
      logRemovalPolicy,
      inlineSchemaBudgetBytes,
      interceptorDirs,
      ...stackProps
    } = props;
    const enabled = servers.filter((s) => s.server.enabled);
    super(scope, id, cdkStackProps(stackProps, fleet, enabled.length));
    this.fleet = fleet;
    // Lambda targets declare their tools; MCP-server targets are listed by the gateway itself.
    const withTools = enabled.filter((b) => b.server.gateway.targetType === 'lambda' && b.tools.length > 0);
    this.schemaPlacement = placeToolSchemas(
      withTools.map((b) => ({ id: b.server.id, tools: b.tools })),
      inlineSchemaBudgetBytes,
    );
    const problems = [
      ...checkInput(enabled),
      ...checkHosts(enabled),
      ...checkSchemas(withTools, this.schemaPlacement),
      ...checkInterceptors(fleet, interceptorDirs),
    ];
    if (problems.length > 0) throw new FleetStackError(problems);

    // AgentCore Policy (`policy:`): an engine with the fleet's Cedar policies, attached to the gateway.
    if (fleet.policy !== undefined) {
      this.policy = new McpFleetPolicy(this, 'Policy', {
        gatewayName: fleet.gateway.name,
        policy: fleet.policy,
      });
    }
    this.gateway = new McpFleetGateway(this, 'Gateway', {
      ...gatewayProps(fleet.gateway),
      ...(this.policy === undefined ? {} : { policyEngine: this.policy.configuration }),
    });
    const tracing = fleet.gateway.tracing;
    this.addInterceptors(interceptorDirs, { runtime, logRemovalPolicy, tracing });
    for (const built of enabled) this.addServer(built, { runtime, alarmTopic, logRemovalPolicy, tracing });

    this.dashboard = new McpFleetDashboard(this, 'Dashboard', {
      functions: [...this.functions.values()],
      webFunctions: [...this.webFunctions.values()],
      runtimes: [...this.runtimes.values()],
      title: `mcp-fleet ${this.stackName}: gateway ${fleet.gateway.name}`,
    });
    this.addOutputs();
    tagFleet(this, fleet, this.stackName);
    // AgentCore checks each policy against the gateway's tools: create them after the targets.
    for (const p of this.policy?.policies ?? []) {
      for (const target of this.gateway.targets.values()) p.node.addDependency(target);
    }
  }

  /** Interceptors (`gateway.interceptors`): each its own function, on the gateway's configurations. */
  private addInterceptors(
    dirs: FleetStackProps['interceptorDirs'],
    { runtime, logRemovalPolicy }: FunctionSettings,
  ): void {
    for (const config of Object.values(this.fleet.gateway.interceptors ?? {})) {
      const dir = dirs?.[config.point] ?? '';
      const interceptor = new McpFleetInterceptor(this, `Interceptor-${config.point}`, {
        ...interceptorPropsFrom(config, dir),
        ...(runtime === undefined ? {} : { runtime }),
        ...(logRemovalPolicy === undefined ? {} : { logRemovalPolicy }),
      });
      interceptor.attachTo(this.gateway.gateway);
      cdk.Tags.of(interceptor).add(INTERCEPTOR_TAG, config.point);
      this.interceptors.push(interceptor);
    }
  }

  /** A server's function, its gateway target and its outputs (the Lambda ARN, the Function URL). */
  private addServer(built: BuiltServer, settings: FunctionSettings): void {
    const { server } = built;
    if (server.hosting.host === 'web-function') {
      this.addWebFunction(built, settings);
      return;
    }
    if (server.hosting.host === 'agentcore-runtime') {
      this.addRuntime(built, settings);
      return;
    }
    const { runtime, alarmTopic, logRemovalPolicy, tracing } = settings;
    const fn = new McpServerFunction(this, `Server-${server.id}`, {
      ...serverFunctionProps(server, built.artifact),
      tracing,
      ...(runtime === undefined ? {} : { runtime }),
      ...(alarmTopic === undefined ? {} : { alarmTopic }),
      ...(logRemovalPolicy === undefined ? {} : { logRemovalPolicy }),
    });
    this.functions.set(server.id, fn);
    tagServer(fn, server);
    this.addTarget(built, fn);
    new cdk.CfnOutput(this, lambdaArnOutputId(server.id), {
      value: fn.function.functionArn,
      description: `Lambda ARN of MCP server ${server.id}`,
    });
    if (fn.functionUrl !== undefined) {
      new cdk.CfnOutput(this, functionUrlOutputId(server.id), {
        value: fn.functionUrl.url,
        description: `Function URL (IAM auth, MCP Streamable HTTP) of MCP server ${server.id}`,
      });
    }
  }

  /** A `web-function` server: its web function, its MCP-server target and its outputs (ARN, endpoint). */
  private addWebFunction(built: BuiltServer, { alarmTopic, logRemovalPolicy }: FunctionSettings): void {
    const { server } = built;
    const fn = new McpWebFunction(this, `Server-${server.id}`, {
      ...webFunctionProps(server, built.artifact.dir),
      ...(alarmTopic === undefined ? {} : { alarmTopic }),
      ...(logRemovalPolicy === undefined ? {} : { logRemovalPolicy }),
    });
    this.webFunctions.set(server.id, fn);
    tagServer(fn, server);
    // A web function has no Lambda invoke: the gateway reaches it only as an MCP-server target.
    this.gateway.addWebFunction(fn, gatewayTargetProps(server));
    new cdk.CfnOutput(this, webFunctionArnOutputId(server.id), {
      value: fn.webFunction.webFunctionArn,
      description: `Web Function ARN of MCP server ${server.id}`,
    });
    new cdk.CfnOutput(this, endpointUrlOutputId(server.id), {
      value: fn.url,
      description: `Web Function endpoint (IAM auth, MCP Streamable HTTP) of MCP server ${server.id}`,
    });
  }

  /** An `agentcore-runtime` server: its runtime, its MCP-server target and its outputs (ARN, invoke URL). */
  private addRuntime(built: BuiltServer, { alarmTopic, tracing }: FunctionSettings): void {
    const { server } = built;
    const rt = new McpAgentCoreRuntime(this, `Server-${server.id}`, {
      ...agentCoreRuntimeProps(server, built.artifact),
      tracing,
      ...(alarmTopic === undefined ? {} : { alarmTopic }),
    });
    this.runtimes.set(server.id, rt);
    tagServer(rt, server);
    // A runtime is reached only through its invoke URL: an MCP-server target.
    this.gateway.addRuntime(rt, gatewayTargetProps(server));
    new cdk.CfnOutput(this, runtimeArnOutputId(server.id), {
      value: rt.runtime.agentRuntimeArn,
      description: `AgentCore Runtime ARN of MCP server ${server.id}`,
    });
    new cdk.CfnOutput(this, runtimeInvokeUrlOutputId(server.id), {
      value: rt.invokeUrl,
      description: `AgentCore Runtime invoke URL (IAM auth, MCP Streamable HTTP, qualifier DEFAULT) of MCP server ${server.id}`,
    });
  }

  /** The server's gateway target: an MCP-server target, or a Lambda target with its tools (none without tools). */
  private addTarget(built: BuiltServer, fn: McpServerFunction): void {
    const { server } = built;
    const schema = this.schemaPlacement.get(server.id);
    if (server.gateway.targetType === 'mcp') {
      this.gateway.addMcpServer(fn, gatewayTargetProps(server));
    } else if (schema === undefined) {
      cdk.Annotations.of(fn).addWarningV2(
        'mcp-fleet:noTools',
        `server ${server.id} has no tools: it is not a gateway target (its Function URL, if any, still serves it)`,
      );
    } else {
      this.gateway.addServer(fn, gatewayTargetProps(server), built.tools, {
        schema,
        ...(built.toolsFile === undefined ? {} : { toolsFile: built.toolsFile }),
      });
    }
  }

  private addOutputs(): void {
    const g = this.gateway;
    const out = (id: string, value: string, description: string) =>
      new cdk.CfnOutput(this, id, { value, description });
    out(OUTPUTS.gatewayUrl, g.url, 'MCP endpoint of the AgentCore gateway (Streamable HTTP)');
    out(OUTPUTS.gatewayId, g.gateway.gatewayId, 'Id of the AgentCore gateway');
    out(OUTPUTS.gatewayArn, g.gateway.gatewayArn, 'ARN of the AgentCore gateway');
    const entry: Record<string, unknown> = { type: 'http', url: g.url };
    let how: string;
    if (g.cognito !== undefined) {
      entry['headers'] = { Authorization: `Bearer <access token from ${OUTPUTS.tokenEndpoint}>` };
      how = `an access token from ${OUTPUTS.tokenEndpoint} (client credentials of ${OUTPUTS.clientId}, scope ${g.cognito.scope})`;
      out(OUTPUTS.userPoolId, g.cognito.userPool.userPoolId, 'Cognito user pool of the gateway');
      out(
        OUTPUTS.clientId,
        g.cognito.client.userPoolClientId,
        'Machine client of the gateway (its secret: aws cognito-idp describe-user-pool-client)',
      );
      out(OUTPUTS.tokenEndpoint, g.cognito.tokenEndpoint, 'OAuth2 token endpoint (client credentials grant)');
      out(OUTPUTS.oauthScope, g.cognito.scope, 'OAuth2 scope to ask for');
    } else if (g.auth === 'iam') {
      how = 'requests signed with SigV4 (service bedrock-agentcore)';
    } else {
      how = 'no credentials (auth: none)';
    }
    out(
      OUTPUTS.gatewayMcpConfig,
      this.toJsonString({ mcpServers: { [this.fleet.gateway.name]: entry } }),
      `mcpServers entry for an MCP client; it needs ${how}`,
    );
    out(OUTPUTS.dashboard, this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard of the fleet');
  }
}

/** The settings the stack gives each function it defines (each left to the construct's default when unset). */
type FunctionSettings = Pick<FleetStackProps, 'runtime' | 'alarmTopic' | 'logRemovalPolicy'> & {
  /** X-Ray tracing of each function and runtime (servers.yaml's `gateway.tracing`). */
  tracing: boolean;
};

/** CDK's own props of the stack: its name and description from the fleet, and the fleet's region. */
function cdkStackProps(
  stackProps: cdk.StackProps,
  fleet: FleetStackProps['fleet'],
  servers: number,
): cdk.StackProps {
  return {
    ...stackProps,
    stackName: stackProps.stackName ?? fleet.stack,
    description:
      stackProps.description ??
      `mcp-fleet: ${servers} MCP server(s) as Lambda functions behind the AgentCore gateway ${fleet.gateway.name}`,
    ...(stackProps.env === undefined && fleet.region !== undefined ? { env: { region: fleet.region } } : {}),
  };
}

function checkInput(servers: readonly BuiltServer[]): string[] {
  const problems: string[] = [];
  const seen = (what: string, key: (b: BuiltServer) => string) => {
    const owners = new Map<string, string>();
    for (const b of servers) {
      const k = key(b);
      const other = owners.get(k);
      if (other !== undefined)
        problems.push(`servers ${other} and ${b.server.id} have the same ${what} ${k}`);
      else owners.set(k, b.server.id);
    }
  };
  seen('id', (b) => b.server.id);
  seen('output name', (b) => lambdaArnOutputId(b.server.id));
  seen('gateway target name', (b) => b.server.gateway.target);
  const targets = servers.filter((b) => b.tools.length > 0).length;
  if (targets > GATEWAY_MAX_TARGETS) {
    problems.push(`${targets} gateway targets, over AgentCore's ${GATEWAY_MAX_TARGETS} per gateway`);
  }
  for (const { server, artifact, toolsFile } of servers) {
    if (!existsSync(artifact.dir)) problems.push(`${server.id}: the artifact ${artifact.dir} does not exist`);
    else if (artifact.kind === 'image' && !existsSync(path.join(artifact.dir, 'Dockerfile'))) {
      problems.push(`${server.id}: the image context ${artifact.dir} has no Dockerfile`);
    } else if (artifact.kind === 'zip' && !existsSync(path.join(artifact.dir, 'index.mjs'))) {
      problems.push(`${server.id}: the function root ${artifact.dir} has no index.mjs`);
    }
    if (toolsFile !== undefined && !existsSync(toolsFile)) {
      problems.push(`${server.id}: the tools file ${toolsFile} does not exist`);
    }
  }
  return problems;
}

/** Every interceptor of the fleet has its built function folder. */
function checkInterceptors(
  fleet: FleetStackProps['fleet'],
  dirs: FleetStackProps['interceptorDirs'],
): string[] {
  const problems: string[] = [];
  for (const config of Object.values(fleet.gateway.interceptors ?? {})) {
    const dir = dirs?.[config.point];
    if (dir === undefined)
      problems.push(`${config.point} interceptor: no built function folder; run mcp-fleet build`);
    else if (!existsSync(path.join(dir, 'index.mjs')))
      problems.push(
        `${config.point} interceptor: the function root ${dir} has no index.mjs; run mcp-fleet build`,
      );
  }
  return problems;
}

/** Every inline schema the L2 could not declare, over all servers. */
function checkSchemas(
  servers: readonly BuiltServer[],
  placement: ReadonlyMap<string, 'inline' | 's3'>,
): string[] {
  const problems: string[] = [];
  for (const { server, tools } of servers) {
    if (placement.get(server.id) !== 'inline') continue;
    try {
      toToolDefinitions(server.gateway.target, tools);
    } catch (err) {
      if (!(err instanceof ToolSchemaError)) throw err;
      problems.push(...err.problems);
    }
  }
  return problems;
}

export { OUTPUTS };
