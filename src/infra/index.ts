/**
 * mcp-fleet/cdk: the fleet as CDK constructs. One Lambda function (an event function, on Lambda or
 * on managed instances, or a web function) or AgentCore runtime per server, the AgentCore gateway with a target per
 * server, alarms, a dashboard, and cdk-nag checks.
 */
export {
  McpAgentCoreRuntime,
  RUNTIME_CODE_RUNTIME,
  RUNTIME_ENTRY_POINT,
  RUNTIME_METRICS_NAMESPACE,
  RUNTIME_QUALIFIER,
  RUNTIME_SIGNING_SERVICE,
  agentCoreRuntimeProps,
  runtimeEnvironment,
  runtimeInvokeUrl,
  runtimeNameOf,
  type McpAgentCoreRuntimeProps,
} from './agentcore-runtime.js';
export { McpFleetDashboard, type McpFleetDashboardProps } from './dashboard.js';
export {
  GATEWAY_OAUTH_SCOPE,
  MCP_PROTOCOL_VERSIONS,
  McpFleetGateway,
  gatewayProps,
  gatewayTargetProps,
  type GatewayAuth,
  type GatewayCognito,
  type McpFleetGatewayProps,
  type McpFleetTargetProps,
} from './gateway.js';
export { McpFleetInterceptor, interceptorPropsFrom, type McpFleetInterceptorProps } from './interceptors.js';
export {
  LAMBDA_RESERVED_ENV,
  endpointUrlOutputId,
  functionUrlOutputId,
  lambdaArnOutputId,
  runtimeArnOutputId,
  runtimeInvokeUrlOutputId,
  webFunctionArnOutputId,
  retentionDays,
  secretsManagerArn,
  ssmParameterArn,
} from './names.js';
export {
  NAG_PACK,
  applyNagChecks,
  nagAcknowledgments,
  nagViolations,
  type NagAcknowledgment,
  type NagAware,
  type NagViolation,
} from './nag.js';
export {
  ALARM_PERIOD,
  DEFAULT_RUNTIME,
  DURATION_ALARM_RATIO,
  McpServerFunction,
  VPC_ENI_POLICY,
  serverFunctionProps,
  type FunctionSecret,
  type FunctionUrlMode,
  type McpServerFunctionProps,
} from './server-function.js';
export {
  CAPACITY_PROVIDER_OPERATOR_POLICY,
  MANAGED_INSTANCES_MIN_MEMORY_MB,
  addCapacityProvider,
  type ManagedInstancesProps,
} from './managed-instances.js';
export {
  DEFAULT_WEB_RUNTIME,
  McpWebFunction,
  WEB_5XX_METRIC,
  WEB_ENDPOINT_NAME,
  WEB_ENTRY_POINT,
  WEB_MCP_PATH,
  WEB_METRICS_NAMESPACE,
  webFunctionProps,
  type McpWebFunctionProps,
} from './web-function.js';
export { FleetStackError, McpFleetStack, OUTPUTS } from './stack.js';
export { FUNCTION_ENV } from '../contract/function-env.js';
export { METRIC, METRICS_NAMESPACE } from '../contract/metrics.js';
export { NagCheckError, synthFleet, type SynthFleetOptions, type SynthResult } from './synth.js';
export {
  INLINE_SCHEMA_TEMPLATE_BUDGET_BYTES,
  ToolSchemaError,
  placeToolSchemas,
  toToolDefinitions,
  toolSchemaBytes,
} from './tool-schema.js';
export type { BuiltServer, FleetStackProps, LoweredTool, ServerArtifact } from './types.js';
