import type * as cdk from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Artifact as ServerArtifact } from '../build/stage/index.js';
import type { LoweredTool } from '../build/tools.js';
import type { FleetConfig, ServerConfig } from '../config/model.js';
import type { InterceptionPoint } from '../config/interceptors.js';

/** What `mcp-fleet build` produced: the lowered tools and the function's artifact, one definition each. */
export type { LoweredTool } from '../build/tools.js';
export type { Artifact as ServerArtifact } from '../build/stage/index.js';

export interface BuiltServer {
  server: ServerConfig;
  artifact: ServerArtifact;
  tools: LoweredTool[];
  /** File with the tools as a JSON array, for schemas > 1 MB that must go to S3. */
  toolsFile?: string;
}

export interface FleetStackProps extends cdk.StackProps {
  fleet: FleetConfig;
  servers: BuiltServer[];
  /**
   * Where the alarms of every function send ALARM and OK notifications.
   * @default - alarms without actions (they show in the console and on the dashboard)
   */
  alarmTopic?: sns.ITopic;
  /**
   * Runtime of the zip functions. Image functions bring their own.
   * @default lambda.Runtime.NODEJS_22_X
   */
  runtime?: lambda.Runtime;
  /**
   * What happens to each function's log group when the stack is deleted. DESTROY by default so
   * that deleting and deploying the fleet again works: the log groups have fixed names
   * (`/aws/lambda/mcp-server-<id>`), and a retained one blocks the next deployment.
   * @default cdk.RemovalPolicy.DESTROY
   */
  logRemovalPolicy?: cdk.RemovalPolicy;
  /**
   * Total bytes of inline tool schemas the template may carry. A CloudFormation template is at
   * most 1 MB, so beyond this budget the largest schemas go to S3 even when each is under the
   * 1 MB per-target inline limit.
   * @default INLINE_SCHEMA_TEMPLATE_BUDGET_BYTES (600 KB)
   */
  inlineSchemaBudgetBytes?: number;
  /**
   * The function folders of the gateway's interceptors (`mcp-fleet build` writes them under
   * `<build>/interceptors/<point>`), for each interceptor the fleet has.
   * @default - none: a fleet with `gateway.interceptors` cannot be defined without them
   */
  interceptorDirs?: Partial<Record<InterceptionPoint, string>>;
}
