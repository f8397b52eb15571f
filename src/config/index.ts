/**
 * `mcp-fleet/config`: load and validate servers.yaml, and the model it produces.
 */
export { loadConfig, loadConfigOrThrow, parseConfig, type LoadResult, type ParseOptions } from './load.js';
export { ConfigError, formatProblem, hasErrors, type Problem } from './problems.js';
export {
  deriveTargetName,
  toLaunchSpec,
  type FleetConfig,
  type IamStatement,
  type Isolation,
  type LaunchSpec,
  type RecycleLimits,
  type SecretRef,
  type ServerConfig,
  type ToolFilter,
} from './model.js';
export { ToolPolicy } from './tool-filter.js';
export { configJsonSchema } from './json-schema.js';
export {
  parseGoSpec,
  parseImageSpec,
  parseNpmSpec,
  parsePypiSpec,
  type PackageKind,
  type PackageSpec,
} from './package-spec.js';
export {
  AWS_REGION_PATTERN,
  DEFAULTS,
  FUNCTION_NAME_PREFIX,
  GATEWAY_NAME_PATTERN,
  GATEWAY_TARGET_NAME_PATTERN,
  LAMBDA_MEMORY_MAX_MB,
  LAMBDA_MEMORY_MIN_MB,
  LAMBDA_TIMEOUT_MAX_S,
  LAMBDA_TIMEOUT_MIN_S,
  SERVER_ID_MAX,
  TOOL_NAME_DELIMITER,
} from './limits.js';
export {
  importClientConfig,
  ImportError,
  toServerId,
  type ClientFormat,
  type ImportNote,
  type ImportResult,
} from './import.js';
export { cfnRateLimit, type RateLimitConfig, type RateLimitEntry, type RateMetric } from './rate-limits.js';
