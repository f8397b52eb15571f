/**
 * mcp-fleet/cdk: the fleet as CDK constructs. One Lambda function per server, the AgentCore
 * gateway with a target per server, alarms, a dashboard, and cdk-nag checks.
 */
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
  functionUrlOutputId,
  lambdaArnOutputId,
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
