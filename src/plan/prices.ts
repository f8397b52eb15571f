/**
 * The public prices `mcp-fleet plan` estimates with: US East (N. Virginia), on-demand, USD, no
 * free tier, no Savings Plans. Each figure names where it was read and whether an AWS page
 * itself confirmed it (`confirmed`) or only third-party copies of AWS's pages did. Prices change:
 * `PRICES_DATE` is when these were gathered; docs/hosts.md ("Which host: mcp-fleet plan") lists
 * the figures no AWS source confirmed.
 */

export const PRICES_DATE = '2026-12-03';
export const PRICES_REGION = 'us-east-1';

export interface Price {
  usd: number;
  unit: string;
  source: string;
  /** Read on an AWS page (or AWS's own transcription of it); false: third-party copies only. */
  confirmed: boolean;
  note?: string;
}

const LAMBDA_PRICING = 'https://aws.amazon.com/lambda/pricing/';
const AGENTCORE_PRICING = 'https://aws.amazon.com/bedrock/agentcore/pricing/';

export const PRICES = {
  /** Lambda requests, event functions and managed instances alike. */
  lambdaRequest: {
    usd: 0.2 / 1e6,
    unit: 'request',
    source: LAMBDA_PRICING,
    confirmed: true,
    note: "$0.20 per million requests (the page's Managed Instances section states it in text; the event-function table is the same rate)",
  },
  /** Lambda duration (init included), first tier (up to 7.5 billion GB-s a month on arm64). */
  lambdaGbSecondArm64: {
    usd: 0.0000133334,
    unit: 'GB-second',
    source: LAMBDA_PRICING,
    confirmed: false,
    note: 'the page renders its rate table in the browser; the figure is from third-party copies of it, which agree',
  },
  /** Lambda duration, first tier (up to 6 billion GB-s a month on x86_64). */
  lambdaGbSecondX86: {
    usd: 0.0000166667,
    unit: 'GB-second',
    source: LAMBDA_PRICING,
    confirmed: false,
    note: 'as for arm64: third-party copies of the page, which agree',
  },
  /** Lambda Managed Instances: a fee on top of the EC2 instance's on-demand price. */
  managedInstancesFee: {
    usd: 0.15,
    unit: 'fraction of the EC2 on-demand price',
    source: LAMBDA_PRICING,
    confirmed: true,
    note: '"15% premium on the EC2 on-demand instance price"',
  },
  /** The instance the estimate assumes for managed instances: m7g.large (2 Graviton vCPUs, 8 GiB), Linux. */
  managedInstancesEc2Hour: {
    usd: 0.0816,
    unit: 'instance-hour (m7g.large)',
    source: 'https://aws.amazon.com/ec2/pricing/on-demand/',
    confirmed: false,
    note: 'from a third-party summary of the on-demand price list (June 2026); the instance type is our assumption',
  },
  /** AgentCore Runtime: CPU billed only while the session's code uses it (not while it waits on I/O). */
  runtimeVcpuHour: {
    usd: 0.0895,
    unit: 'vCPU-hour',
    source: AGENTCORE_PRICING,
    confirmed: false,
    note: 'third-party copies of the pricing page, which agree',
  },
  /** AgentCore Runtime: memory billed on the peak used, per second of the session. */
  runtimeGbHour: {
    usd: 0.00945,
    unit: 'GB-hour',
    source: AGENTCORE_PRICING,
    confirmed: false,
    note: 'third-party copies of the pricing page, which agree',
  },
  /** AgentCore Gateway: tools/call (InvokeTool), ListTools and Ping. */
  gatewayInvocation: {
    usd: 0.005 / 1000,
    unit: 'gateway call',
    source: AGENTCORE_PRICING,
    confirmed: false,
    note: '$0.005 per 1,000, from third-party copies of the pricing page (one dated 2026-03-11), which agree',
  },
} as const satisfies Record<string, Price>;

/**
 * Lambda Web Functions: billed on requests, active CPU, memory and data transfer (AWS's Web
 * Functions skill, "Cost Model"), but no rate was found in any source: `plan` prints no figure.
 */
export const WEB_FUNCTION_PRICE_NOTE =
  'no published rate found (Web Functions bill requests, active CPU, memory and data transfer; rates: aws.amazon.com/lambda/pricing/)';

/** Seconds in the month AWS's price examples use: 730 hours. */
export const SECONDS_PER_MONTH = 730 * 3600;
