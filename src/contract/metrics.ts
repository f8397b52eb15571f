/**
 * The runtime's metric names (CloudWatch EMF), which the dashboard and alarms read. No imports:
 * the CDK constructs use these without loading Powertools.
 */

/** The metrics namespace. */
export const METRICS_NAMESPACE = 'McpFleet';

/** Metric names, with the dimensions each is published with. */
export const METRIC = {
  /** {server, tool} */
  calls: 'ToolCalls',
  /** {server, tool} */
  errors: 'ToolErrors',
  /** {server, tool}, milliseconds */
  latency: 'ToolLatency',
  /** {server} */
  serverStarts: 'ServerStarts',
  /** {server}, milliseconds from spawn to initialized */
  serverStartTime: 'ServerStartTime',
  /** {server} */
  serverCrashes: 'ServerCrashes',
  /** {server} */
  timeouts: 'CallTimeouts',
} as const;
