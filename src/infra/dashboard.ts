import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE } from '../contract/metrics.js';
import { ALARM_PERIOD } from './server-function.js';
import type { McpServerFunction } from './server-function.js';
import { WEB_5XX_METRIC, type McpWebFunction } from './web-function.js';
import type { McpAgentCoreRuntime } from './agentcore-runtime.js';

/** Widget size: four widgets make a row of the 24-column grid. */
const WIDTH = 6;
const HEIGHT = 6;

export interface McpFleetDashboardProps {
  readonly functions: readonly McpServerFunction[];
  /**
   * Servers on web functions: a row each, with the endpoint's 5xx answers instead of Lambda's
   * invocation metrics.
   * @default - none
   */
  readonly webFunctions?: readonly McpWebFunction[];
  /**
   * Servers on AgentCore Runtime: a row each, with the runtime's invocations, errors, throttles,
   * latency and sessions (`AWS/Bedrock-AgentCore`).
   * @default - none
   */
  readonly runtimes?: readonly McpAgentCoreRuntime[];
  /** Shown in the title. */
  readonly title: string;
  /**
   * @default - `<stack name>-<region>` (dashboards are global to the account; the region keeps two
   * deployments of the same stack apart)
   */
  readonly dashboardName?: string;
}

/**
 * A CloudWatch dashboard of the fleet: totals of the runtime's tool calls, then one row per server
 * with Lambda's own metrics (invocations, errors, throttles, duration against the timeout) and the
 * runtime's EMF metrics (namespace McpFleet: tool calls, errors, latency, timeouts, server starts,
 * start time, crashes).
 *
 * The runtime publishes tool metrics with the dimensions {service, server, tool} and server
 * metrics with {service, server}, where service is `mcp-server-<id>` (Powertools adds it); tool
 * metrics are summed over tools with SEARCH, so tools need not be known here.
 */
export class McpFleetDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: McpFleetDashboardProps) {
    super(scope, id);
    const stack = cdk.Stack.of(this);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? cdk.Fn.join('-', [stack.stackName, cdk.Aws.REGION]),
      defaultInterval: cdk.Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# ${props.title}\nOne row per server: Lambda's metrics, then the runtime's (namespace \`${METRICS_NAMESPACE}\`).`,
        width: 12,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'All servers: tool calls and errors',
        width: 12,
        height: HEIGHT,
        left: [
          toolSum(METRIC.calls, undefined, 'tool calls'),
          toolSum(METRIC.errors, undefined, 'tool errors'),
        ],
      }),
    );
    for (const fn of props.functions) this.dashboard.addWidgets(...serverRow(fn));
    for (const fn of props.webFunctions ?? []) this.dashboard.addWidgets(...webRow(fn));
    for (const rt of props.runtimes ?? []) this.dashboard.addWidgets(...runtimeRow(rt));
  }
}

/** An event function's row: Lambda's invocation metrics, then the runtime's. */
function serverRow(fn: McpServerFunction): cloudwatch.IWidget[] {
  const id = fn.serverId;
  const timeout = fn.timeout.toSeconds();
  const f = fn.function;
  const sum = { period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM };
  return [
    new cloudwatch.GraphWidget({
      title: `${id}: invocations`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        f.metricInvocations({ ...sum, label: 'invocations' }),
        f.metricErrors({ ...sum, label: 'errors' }),
        f.metricThrottles({ ...sum, label: 'throttles' }),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: `${id}: duration (ms)`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        f.metricDuration({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.p(50), label: 'p50' }),
        f.metricDuration({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.p(99), label: 'p99' }),
        f.metricDuration({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.MAXIMUM, label: 'max' }),
      ],
      leftAnnotations: [
        { value: timeout * 1000, label: `timeout ${timeout} s`, color: cloudwatch.Color.RED },
      ],
    }),
    ...runtimeWidgets(id, fn.functionName),
  ];
}

/**
 * A web function's row: the endpoint's 5xx answers (AWS/Lambda/Web), then the runtime's metrics
 * (the same EMF the event handler writes; whether Lambda extracts EMF from a web function's logs
 * is not documented).
 */
function webRow(fn: McpWebFunction): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: `${fn.serverId}: endpoint answers`,
      width: WIDTH * 2,
      height: HEIGHT,
      left: [fn.metric(WEB_5XX_METRIC, { label: '5xx' })],
    }),
    ...runtimeWidgets(fn.serverId, fn.functionName),
  ];
}

/**
 * An AgentCore runtime's row: its invocations, system and user errors, throttles, latency and
 * sessions (AWS/Bedrock-AgentCore), then the runtime's EMF metrics (whether CloudWatch extracts
 * EMF from a runtime's logs is not documented).
 */
function runtimeRow(rt: McpAgentCoreRuntime): cloudwatch.IWidget[] {
  const r = rt.runtime;
  const sum = { period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM };
  return [
    new cloudwatch.GraphWidget({
      title: `${rt.serverId}: runtime invocations`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        r.metricInvocations({ ...sum, label: 'invocations' }),
        r.metricSystemErrors({ ...sum, label: 'system errors' }),
        r.metricUserErrors({ ...sum, label: 'user errors' }),
        r.metricThrottles({ ...sum, label: 'throttles' }),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: `${rt.serverId}: runtime latency and sessions`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        r.metricLatency({
          period: ALARM_PERIOD,
          statistic: cloudwatch.Stats.p(99),
          label: 'p99 latency (ms)',
        }),
      ],
      right: [r.metricSessionCount({ ...sum, label: 'sessions' })],
    }),
    ...runtimeWidgets(rt.serverId, rt.functionName),
  ];
}

/** The runtime's EMF metrics of one server: tool calls, errors, timeouts, latency, server starts. */
function runtimeWidgets(id: string, functionName: string): cloudwatch.IWidget[] {
  const serverMetric = (name: string, statistic: string, label: string): cloudwatch.Metric =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      // Powertools' service dimension: the runtime names its service `mcp-server-<id>`.
      dimensionsMap: { service: functionName, server: id },
      statistic,
      period: ALARM_PERIOD,
      label,
    });
  return [
    new cloudwatch.GraphWidget({
      title: `${id}: tool calls`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        toolSum(METRIC.calls, id, 'calls'),
        toolSum(METRIC.errors, id, 'errors'),
        serverMetric(METRIC.timeouts, cloudwatch.Stats.SUM, 'timeouts'),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: `${id}: latency and server starts`,
      width: WIDTH,
      height: HEIGHT,
      left: [
        new cloudwatch.MathExpression({
          expression: search(METRIC.latency, id, 'p99'),
          label: 'p99 latency (ms)',
          period: ALARM_PERIOD,
        }),
        serverMetric(METRIC.serverStartTime, cloudwatch.Stats.MAXIMUM, 'start time (ms)'),
      ],
      right: [
        serverMetric(METRIC.serverStarts, cloudwatch.Stats.SUM, 'starts'),
        serverMetric(METRIC.serverCrashes, cloudwatch.Stats.SUM, 'crashes'),
      ],
    }),
  ];
}

/** A metric published per tool, over every tool (of one server, or of all). */
function search(metric: string, serverId: string | undefined, statistic: string): string {
  const server = serverId === undefined ? '' : ` server="${serverId}"`;
  return `SEARCH('{${METRICS_NAMESPACE},server,service,tool} MetricName="${metric}"${server}', '${statistic}', ${ALARM_PERIOD.toSeconds()})`;
}

function toolSum(metric: string, serverId: string | undefined, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SUM(${search(metric, serverId, 'Sum')})`,
    label,
    period: ALARM_PERIOD,
  });
}
