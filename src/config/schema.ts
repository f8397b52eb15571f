import * as z from 'zod';
import picomatch from 'picomatch';
import { describeValue, nearest, oneOf } from './describe.js';
import {
  AWS_REGION_PATTERN,
  DEFAULTS,
  ENV_NAME_PATTERN,
  GATEWAY_NAME_PATTERN,
  GATEWAY_SESSION_DEFAULT_S,
  GATEWAY_SESSION_MAX_S,
  GATEWAY_SESSION_MIN_S,
  GATEWAY_TARGET_NAME_PATTERN,
  HOSTS,
  LAMBDA_MEMORY_MAX_MB,
  LAMBDA_MEMORY_MIN_MB,
  LAMBDA_TIMEOUT_MAX_S,
  LAMBDA_TIMEOUT_MIN_S,
  LOG_RETENTION_DAYS,
  MANAGED_INSTANCES_CONCURRENCY_MAX,
  MAX_ENVIRONMENTS_MAX,
  RUNTIME_IDLE_TIMEOUT_DEFAULT_S,
  RUNTIME_MAX_LIFETIME_DEFAULT_S,
  RUNTIME_SESSION_MAX_S,
  RUNTIME_SESSION_MIN_S,
  SERVER_STATES,
  STACK_NAME_PATTERN,
  TOOL_NAME_PATTERN,
  WEB_FUNCTION_MIN_ENVIRONMENTS,
  WEB_FUNCTION_RATE_LIMITS,
} from './limits.js';
import { PACKAGE_KINDS, PACKAGE_PARSERS } from './package-spec.js';
import { policySchema, tagsSchema } from './policy-schema.js';
import { interceptorsSchema } from './interceptors.js';
import { rateLimitsSchema } from './rate-limits.js';

/*
 * The servers.yaml model. Each field carries its own error messages ("what is wrong; what is
 * allowed") and a description that ends up in the generated JSON Schema, so editors show it.
 */

type Issue = z.core.$ZodRawIssue;
const got = (iss: { input?: unknown }): string => describeValue(iss.input);
/** The value as written, for messages about a value of the right type but a wrong content. */
const shown = (iss: { input?: unknown }): string =>
  typeof iss.input === 'string' ? JSON.stringify(iss.input) : describeValue(iss.input);

const text = (what: string) =>
  z
    .string({ error: (iss) => `expected ${what} as text, got ${got(iss)}` })
    .min(1, { error: `${what} is empty` });

/** A scalar YAML value used as text (args, env values): numbers and booleans are written as text. */
const scalarText = (what: string) =>
  z
    .union([z.string(), z.number(), z.boolean()], {
      error: (iss) => `expected ${what} as text, got ${got(iss)}; quote it`,
    })
    .transform(String);

/** `unit` is [singular, plural]. */
const wholeNumber = (
  what: string,
  unit: readonly [string, string],
  min: number,
  max: number,
  limitOf: string,
) =>
  z
    .int({ error: (iss) => `expected a whole number of ${unit[1]}, got ${got(iss)}; use ${min}–${max}` })
    .min(min, {
      error: (iss) =>
        `${String(iss.input)} is below ${limitOf} minimum of ${min} ${unit[min === 1 ? 0 : 1]}; use ${min}–${max}`,
    })
    .max(max, {
      error: (iss) =>
        `${String(iss.input)} is above ${limitOf} maximum of ${max} ${unit[1]}; use ${min}–${max}`,
    })
    .describe(what);

/** A whole number of `unit` (plural, for its messages), at least `min` and at most `max` when given. */
/** `minHint` follows "use <min> or more" (a host's own, higher minimum). */
const count = (unit: string, min: number, max?: number, minHint = '') => {
  const base = z
    .int({ error: (iss) => `expected a whole number of ${unit}, got ${got(iss)}` })
    .min(min, { error: (iss) => `${String(iss.input)} is below ${min}; use ${min} or more${minHint}` });
  return max === undefined
    ? base
    : base.max(max, { error: (iss) => `${String(iss.input)} is above ${max}; use at most ${max}` });
};

const enumOf = <const T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, {
    error: (iss) => {
      const meant = typeof iss.input === 'string' ? nearest(iss.input, values) : undefined;
      return meant !== undefined && meant !== iss.input
        ? `${shown(iss)} is not a valid ${what}; did you mean "${meant}"?`
        : `${shown(iss)} is not a valid ${what}; use ${oneOf(values)}`;
    },
  });

const bool = (what: string) =>
  z.boolean({ error: (iss) => `expected true or false for ${what}, got ${got(iss)}` });

const list = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item, { error: (iss) => `expected a list of ${what}, got ${got(iss)}` });

const map = <T extends z.ZodType>(value: T, what: string, key: z.ZodType<string> = z.string()) =>
  z.record(key, value, { error: (iss) => `expected a map of ${what}, got ${got(iss)}` });

const envName = z.string().regex(ENV_NAME_PATTERN, {
  error: (iss) =>
    `${JSON.stringify(iss.input)} is not a valid environment variable name; use letters, digits and _, not starting with a digit`,
});

const globPattern = z
  .string({ error: (iss) => `expected a tool name or glob pattern, got ${got(iss)}` })
  .min(1, { error: 'empty tool pattern' })
  .check((ctx) => {
    try {
      picomatch.makeRe(ctx.value);
    } catch (err) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `"${ctx.value}" is not a valid glob: ${(err as Error).message}`,
      });
    }
  });

const toolName = z.string().regex(TOOL_NAME_PATTERN, {
  error: (iss) => `${shown(iss)} is not a valid MCP tool name; use 1–128 letters, digits, '_', '-' or '.'`,
});

export const packageSchema = z
  .strictObject(
    {
      npm: z
        .string()
        .optional()
        .describe('npm package, pinned: name@version (e.g. @modelcontextprotocol/server-memory@2026.8.31)'),
      pypi: z
        .string()
        .optional()
        .describe('PyPI requirement, pinned: name==version (e.g. awslabs.eks-mcp-server==0.2.5)'),
      go: z.string().optional().describe('Go main package, pinned: module/path/cmd@vX.Y.Z'),
      image: z
        .string()
        .optional()
        .describe('Container image to copy the server from: repository:tag or @sha256:digest'),
      python: z
        .string()
        .regex(/^3\.\d{1,2}$/, { error: (iss) => `${shown(iss)} is not a Python version; use e.g. "3.12"` })
        .optional()
        .describe('For pypi: the Python version the server needs (e.g. "3.12"; default: the one found)'),
      system: list(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._-]*$/, {
          error: (iss) => `${shown(iss)} is not an OS package name`,
        }),
        'OS package names',
      )
        .optional()
        .describe(
          'For pypi and image: OS packages the server needs (dnf names, e.g. graphviz), added to the image',
        ),
      constraints: list(
        z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]+\])?\s*(===?|~=|!=|<=|>=|<|>)\s*[^\s;]+(\s*,\s*(===?|~=|!=|<=|>=|<|>)\s*[^\s,;]+)*$/,
            {
              error: (iss) =>
                `${shown(iss)} is not a version constraint; use e.g. "mcp<2" or "pydantic==2.11.7"`,
            },
          ),
        'version constraints',
      )
        .optional()
        .describe(
          'For pypi: extra version constraints on dependencies, e.g. ["mcp<2"] for servers written for an older dependency',
        ),
      copy: list(
        z.string().regex(/^\/[^\0]*$/, { error: (iss) => `${shown(iss)} is not an absolute path` }),
        'absolute paths',
      )
        .optional()
        .describe(
          'For image: the paths copied from that image into the function image (default: the command)',
        ),
    },
    { error: (iss) => `expected a map with one of ${oneOf(PACKAGE_KINDS)}, got ${got(iss)}` },
  )
  .check((ctx) => {
    const kinds = PACKAGE_KINDS.filter((k) => ctx.value[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message:
          kinds.length === 0
            ? `no package source given; use exactly one of ${oneOf(PACKAGE_KINDS)}`
            : `${oneOf(kinds)} given together; use exactly one package source`,
      });
      return;
    }
    if (ctx.value.system !== undefined && kinds[0] !== 'pypi' && kinds[0] !== 'image') {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.system,
        path: ['system'],
        message:
          '"system" applies to pypi and image packages only (they run in a container image); remove it',
      });
    }
    if (ctx.value.constraints !== undefined && kinds[0] !== 'pypi') {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.constraints,
        path: ['constraints'],
        message: '"constraints" applies to pypi packages only; remove it',
      });
    }
    if (ctx.value.copy !== undefined && kinds[0] !== 'image') {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.copy,
        path: ['copy'],
        message: '"copy" applies to image packages only; remove it',
      });
    }
    if (ctx.value.python !== undefined && kinds[0] !== 'pypi') {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.python,
        path: ['python'],
        message: '"python" applies to pypi packages only; remove it',
      });
    }
    for (const kind of kinds) {
      const result = PACKAGE_PARSERS[kind](ctx.value[kind] ?? '');
      if (!result.ok)
        ctx.issues.push({ code: 'custom', input: ctx.value[kind], path: [kind], message: result.message });
    }
  })
  .describe('Where the server comes from, pinned. Absent: the command is simply on PATH.');

const SSM_PARAMETER =
  /^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]+|\/?[A-Za-z0-9_.\-/]+)$/;
const SECRET_ID =
  /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]+)$/;

export const secretSchema = z
  .strictObject(
    {
      ssm: z
        .string()
        .regex(SSM_PARAMETER, {
          error: (iss) => `${shown(iss)} is not an SSM parameter name or ARN; e.g. /mcp/github/token`,
        })
        .optional()
        .describe('SSM Parameter Store parameter name or ARN (SecureString is decrypted)'),
      secretsManager: z
        .string()
        .regex(SECRET_ID, { error: (iss) => `${shown(iss)} is not a Secrets Manager secret name or ARN` })
        .optional()
        .describe('Secrets Manager secret name or ARN'),
      key: z.string().min(1).optional().describe('For a JSON secret: the key whose value is used'),
    },
    {
      error: (iss) =>
        `expected a map like {ssm: /path/to/parameter} or {secretsManager: name}, got ${got(iss)}`,
    },
  )
  .check((ctx) => {
    const { ssm, secretsManager, key } = ctx.value;
    if ((ssm === undefined) === (secretsManager === undefined)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: 'use exactly one of "ssm" or "secretsManager"',
      });
    } else if (key !== undefined && ssm !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: key,
        path: ['key'],
        message: '"key" applies to Secrets Manager JSON secrets only; remove it or use secretsManager',
      });
    }
  })
  .describe('An environment variable whose value is read at start from a secret store');

const IAM_ACTION = /^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/;
const MANAGED_POLICY = /^(arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+|[\w+=,.@/-]+)$/;

const iamStatement = z.strictObject({
  effect: enumOf(['Allow', 'Deny'], 'effect').default('Allow'),
  actions: list(
    z.string().regex(IAM_ACTION, {
      error: (iss) => `${shown(iss)} is not an IAM action; use service:Action, e.g. s3:GetObject`,
    }),
    'IAM actions',
  ).min(1, { error: 'no actions; list at least one, e.g. s3:GetObject' }),
  resources: list(text('a resource ARN'), 'resource ARNs').min(1, {
    error: 'no resources; list at least one ARN (or "*")',
  }),
  conditions: map(
    map(z.union([z.string(), list(z.string(), 'values')]), 'condition keys'),
    'condition operators',
  ).optional(),
});

const subnetIds = list(
  z.string().regex(/^subnet-[0-9a-f]{8,17}$/, {
    error: (iss) => `${shown(iss)} is not a subnet id (subnet-…)`,
  }),
  'subnet ids',
).min(1, { error: 'no subnets; list at least one subnet id' });
const securityGroupIds = list(
  z.string().regex(/^sg-[0-9a-f]{8,17}$/, {
    error: (iss) => `${shown(iss)} is not a security group id (sg-…)`,
  }),
  'security group ids',
).min(1, { error: 'no security groups; list at least one security group id' });

export const awsSchema = z
  .strictObject({
    architecture: enumOf(['arm64', 'x86_64'], 'architecture')
      .optional()
      .describe(`Lambda architecture (default ${DEFAULTS.architecture})`),
    reservedConcurrency: count('concurrent executions', 0)
      .optional()
      .describe('Reserved concurrency of the function (also the local concurrency limit)'),
    iam: z
      .strictObject({
        managedPolicies: list(
          z
            .string()
            .regex(MANAGED_POLICY, { error: (iss) => `${shown(iss)} is not a managed policy name or ARN` }),
          'managed policy names or ARNs',
        ).optional(),
        statements: list(iamStatement, 'IAM statements').optional(),
      })
      .optional()
      .describe('What the server may do in AWS: the role gets only this (plus its logs)'),
    vpc: z
      .strictObject({ subnetIds, securityGroupIds })
      .optional()
      .describe('Run the function in these subnets with these security groups'),
    logRetentionDays: z
      .int({ error: (iss) => `expected a number of days, got ${got(iss)}` })
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        error: (iss) =>
          `${String(iss.input)} is not a retention CloudWatch Logs accepts; use one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .optional()
      .describe(`Log retention in days (default ${DEFAULTS.logRetentionDays})`),
    systemLogLevel: enumOf(['DEBUG', 'INFO', 'WARN'], 'systemLogLevel')
      .optional()
      .describe(
        "A web function's system log level (default INFO): DEBUG adds Lambda's platform.requestComplete event for every request",
      ),
    functionUrl: bool('functionUrl')
      .optional()
      .describe('Add a Function URL (IAM auth) serving MCP Streamable HTTP'),
  })
  .describe('AWS settings of the function');

const toolsSchema = z
  .strictObject({
    allow: list(globPattern, 'tool names or glob patterns')
      .optional()
      .describe('Only these tools are served (glob patterns)'),
    deny: list(globPattern, 'tool names or glob patterns')
      .optional()
      .describe('These tools are never served (glob patterns; wins over allow)'),
    rename: map(toolName, 'tool names', toolName)
      .optional()
      .describe('Serve a tool under another name: {original: new}'),
  })
  .describe('Which tools are served, on every front');

const recycleSchema = z
  .strictObject({
    maxInvocations: z
      .int({ error: (iss) => `expected a whole number of invocations, got ${got(iss)}` })
      .min(1, { error: 'must be at least 1' })
      .optional()
      .describe('Replace the server process after this many calls'),
    idleSeconds: z
      .int({ error: (iss) => `expected a whole number of seconds, got ${got(iss)}` })
      .min(1, { error: 'must be at least 1 second' })
      .max(86_400, { error: 'must be at most 86400 seconds (a day)' })
      .optional()
      .describe('Replace the server process when it was idle this long'),
  })
  .describe('Limits on how long one warm server process lives');

/**
 * The kind of gateway target a server becomes (inheritable: a server may set it, or `defaults`).
 * `lambda`: AgentCore's Lambda target, tools only, from a schema declared at build time;
 * `mcp`: an MCP-server target in front of the function's Function URL (tools, prompts,
 * resources, notifications), listed by the gateway itself.
 */
export const TARGET_TYPES = ['lambda', 'mcp'] as const;
export const LISTING_MODES = ['default', 'dynamic'] as const;

const targetKindShape = {
  targetType: enumOf(TARGET_TYPES, 'gateway target type')
    .optional()
    .describe(
      "lambda (default): a Lambda target, tools only, schemas declared at build time and lowered to AgentCore's subset; mcp: an MCP-server target on the function's Function URL (AWS_IAM, streamed): tools, prompts, resources, progress and logging notifications",
    ),
  listingMode: enumOf(LISTING_MODES, 'listing mode')
    .optional()
    .describe(
      'mcp targets: default (the gateway lists the tools and caches them, synchronized on deploy) or dynamic (listed live at every tools/list; no semantic search)',
    ),
  resourcePriority: z
    .int({ error: (iss) => `expected a whole number for resourcePriority, got ${got(iss)}; e.g. 1000` })
    .min(0, { error: (iss) => `${String(iss.input)} is below 0; use 0 or more (lower wins)` })
    .optional()
    .describe(
      'mcp targets: which target serves a resource URI that several list; lower wins (default 1000, as AgentCore)',
    ),
  signingService: z
    .string({ error: (iss) => `expected a SigV4 service name as text, got ${got(iss)}` })
    .regex(/^[a-zA-Z0-9._-]{1,64}$/, {
      error: (iss) => `${shown(iss)} is not a SigV4 service name; use 1–64 letters, digits, '.', '_' or '-'`,
    })
    .optional()
    .describe(
      `host web-function: the SigV4 service the gateway signs its calls to the endpoint for (default ${DEFAULTS.webFunctionSigningService}; no AWS source names it yet, see docs/hosts.md)`,
    ),
};

const capacityProviderSchema = z
  .strictObject(
    {
      subnetIds: subnetIds.describe('The subnets the instances run in'),
      securityGroupIds: securityGroupIds.describe('The security groups of the instances'),
      maxVCpuCount: z
        .int({ error: (iss) => `expected a whole number of vCPUs, got ${got(iss)}` })
        .min(2, { error: (iss) => `${String(iss.input)} vCPUs is too few; use 2 or more` })
        .max(15_000, { error: (iss) => `${String(iss.input)} vCPUs is too many; use at most 15000` })
        .optional()
        .describe('The most vCPUs the capacity provider runs at once (AWS default 400)'),
    },
    {
      error: (iss) =>
        `expected a map like {subnetIds: [subnet-…], securityGroupIds: [sg-…]}, got ${got(iss)}`,
    },
  )
  .describe('host managed-instances: the EC2 capacity provider the function runs on');

/** The host a server runs on, and the settings users tune for it (beside `host:`). */
const hostShape = {
  host: enumOf(HOSTS, 'host')
    .optional()
    .describe(
      'Where the server runs on AWS: function (default; a Lambda event function, one call per environment), web-function (a Lambda Web Function: one warm server takes many calls at once), managed-instances (an event function on EC2 capacity, several calls per environment, never frozen), agentcore-runtime (AgentCore Runtime: one server per client session, for servers that keep state). See docs/hosts.md',
    ),
  concurrency: count('calls', 1, MANAGED_INSTANCES_CONCURRENCY_MAX)
    .optional()
    .describe(
      `web-function, managed-instances, agentcore-runtime: calls one server process takes at once (default ${DEFAULTS.concurrency} on web-function and managed-instances, ${DEFAULTS.sessionConcurrency} on agentcore-runtime: measured on the seed fleet). 1 for a server that cannot take concurrent requests: a web-function or managed-instances environment then runs a pool of processes; a session's calls wait their turn`,
    ),
  processes: count('processes', 1, 64)
    .optional()
    .describe(
      `web-function, managed-instances: server processes one environment runs at most, each started when the others are full and none is starting (default ${DEFAULTS.processes})`,
    ),
  environmentConcurrency: count('calls', 1, MANAGED_INSTANCES_CONCURRENCY_MAX)
    .optional()
    .describe(
      `web-function (1–128), managed-instances (1–1600): calls one environment takes at once (default ${DEFAULTS.environmentConcurrency}, at most concurrency × processes)`,
    ),
  maxEnvironments: count(
    'environments',
    1,
    MAX_ENVIRONMENTS_MAX,
    ` (${WEB_FUNCTION_MIN_ENVIRONMENTS} or more on host web-function)`,
  )
    .optional()
    .describe(
      'web-function (2–10000), managed-instances: the most environments at once; past them calls are throttled',
    ),
  minEnvironments: count('environments', 0, MAX_ENVIRONMENTS_MAX)
    .optional()
    .describe('managed-instances: environments kept running (AWS default 3; no scale to zero)'),
  rateLimit: z
    .int({ error: (iss) => `expected a whole number of requests per second, got ${got(iss)}` })
    .refine((n) => WEB_FUNCTION_RATE_LIMITS.includes(n), {
      error: (iss) =>
        `${String(iss.input)} requests per second is not a rate Lambda accepts; use 0, 100–1000 in steps of 100, or 2000–10000 in steps of 1000`,
    })
    .optional()
    .describe("web-function: the endpoint's requests per second, checked before any environment"),
  capacityProvider: capacityProviderSchema.optional(),
  idleTimeout: wholeNumber(
    'AgentCore Runtime idle session timeout, seconds',
    ['second', 'seconds'],
    RUNTIME_SESSION_MIN_S,
    RUNTIME_SESSION_MAX_S,
    "AgentCore Runtime's",
  )
    .optional()
    .describe(
      `agentcore-runtime: seconds a session's server lives without a call before it ends (default ${RUNTIME_IDLE_TIMEOUT_DEFAULT_S}; at most maxLifetime)`,
    ),
  maxLifetime: wholeNumber(
    'AgentCore Runtime session lifetime, seconds',
    ['second', 'seconds'],
    RUNTIME_SESSION_MIN_S,
    RUNTIME_SESSION_MAX_S,
    "AgentCore Runtime's",
  )
    .optional()
    .describe(
      `agentcore-runtime: seconds a session's server lives at most, idle or not (default ${RUNTIME_MAX_LIFETIME_DEFAULT_S})`,
    ),
  state: enumOf(SERVER_STATES, 'state')
    .optional()
    .describe(
      'What the server keeps between calls: none (any environment may answer any call) or session (a later call of a conversation needs what an earlier one left: files, a clone, a graph). mcp-fleet plan advises a session host for session',
    ),
};

const gatewayKindSchema = z
  .strictObject(targetKindShape, {
    error: (iss) => `expected a map of gateway target settings, got ${got(iss)}`,
  })
  .describe(
    'The gateway target kind every server inherits: targetType, listingMode, resourcePriority, signingService',
  );

/** The fields a server inherits from `defaults:`. */
const inheritable = {
  env: map(scalarText('an environment value'), 'environment variables', envName)
    .optional()
    .describe('Environment of the server process'),
  secrets: map(secretSchema, 'secret references', envName)
    .optional()
    .describe('Environment variables read from SSM Parameter Store or Secrets Manager at start'),
  timeout: wholeNumber(
    'Lambda timeout, seconds',
    ['second', 'seconds'],
    LAMBDA_TIMEOUT_MIN_S,
    LAMBDA_TIMEOUT_MAX_S,
    "Lambda's",
  )
    .optional()
    .describe(`Lambda timeout in seconds, 1–900 (default ${DEFAULTS.timeout})`),
  memory: wholeNumber(
    'Lambda memory, MB',
    ['MB', 'MB'],
    LAMBDA_MEMORY_MIN_MB,
    LAMBDA_MEMORY_MAX_MB,
    "Lambda's",
  )
    .optional()
    .describe(`Lambda memory in MB, 128–10240 (default ${DEFAULTS.memory})`),
  isolation: enumOf(['warm', 'per-invocation'], 'isolation')
    .optional()
    .describe(
      'warm (default): one server process per Lambda environment, reused; per-invocation: a fresh process per call',
    ),
  recycle: recycleSchema.optional(),
  ...hostShape,
  tools: toolsSchema.optional(),
  aws: awsSchema.optional(),
  enabled: bool('enabled').optional().describe('false: keep the entry but do not build, deploy or run it'),
  tags: tagsSchema.optional(),
};

const deprecatedSchema = z
  .string({ error: (iss) => `expected the reason as text, got ${got(iss)}` })
  .min(1, { error: 'say why, e.g. "superseded by awslabs.aws-iac-mcp-server"' })
  .optional()
  .describe('Marks a server deprecated upstream, with the reason or successor; validate warns about it');

export const serverSchema = z
  .strictObject(
    {
      name: text('a name').optional().describe('Human-readable name'),
      description: z
        .string({ error: (iss) => `expected a description as text, got ${got(iss)}` })
        .optional()
        .describe('What the server is for; also the gateway target description'),
      command: text('a command').describe('The executable that starts the server on stdio'),
      args: list(scalarText('an argument'), 'arguments').optional().describe('Arguments of the command'),
      cwd: text('a directory').optional().describe('Working directory of the server process'),
      shell: bool('shell').optional().describe('Run the command through /bin/sh (default false)'),
      package: packageSchema.optional(),
      gateway: z
        .strictObject({
          target: z
            .string()
            .regex(GATEWAY_TARGET_NAME_PATTERN, {
              error: (iss) =>
                `${shown(iss)} is not a valid AgentCore target name; use letters and digits, single '-' between them, at most 100`,
            })
            .optional()
            .describe(
              'Target name at the gateway (default: the server id); tools are named <target>___<tool>',
            ),
          description: z
            .string()
            .optional()
            .describe('Target description at the gateway (default: description)'),
          ...targetKindShape,
        })
        .optional()
        .describe('How the server appears at the AgentCore Gateway'),
      deprecated: deprecatedSchema,
      verify: z
        .strictObject({
          tool: toolName.describe('A tool that is safe to call after deploy'),
          arguments: map(z.unknown(), 'arguments').optional().describe('Its arguments'),
        })
        .optional()
        .describe('A tool call that `mcp-fleet verify` makes after deploy'),
      toolsFile: text('a file')
        .optional()
        .describe(
          'A checked-in tools.json (the tools/list result) used instead of discovery, for servers that cannot start offline',
        ),
      ...inheritable,
    },
    { error: (iss) => `expected a server definition (a map with at least "command"), got ${got(iss)}` },
  )
  .describe('One stdio MCP server: one Lambda function, one gateway target');

export const defaultsSchema = z
  .strictObject(
    { ...inheritable, gateway: gatewayKindSchema.optional() },
    {
      error: (iss) => `expected a map of settings every server inherits, got ${got(iss)}`,
    },
  )
  .describe("Values every server inherits (maps are merged, other values replaced by the server's own)");

export const gatewaySchema = z
  .strictObject({
    name: z
      .string()
      .regex(GATEWAY_NAME_PATTERN, {
        error: (iss) =>
          `${shown(iss)} is not a valid AgentCore gateway name; use letters and digits, single '-' between them, at most 48`,
      })
      .optional()
      .describe(`Gateway name (default ${DEFAULTS.gatewayName})`),
    auth: enumOf(['cognito', 'iam', 'none'], 'gateway auth')
      .optional()
      .describe(
        'cognito (default): JWT from a Cognito user pool and machine client; iam: AWS_IAM (SigV4); none: no auth',
      ),
    search: bool('search').optional().describe('Add the x_amz_bedrock_agentcore_search tool'),
    tracing: bool('tracing')
      .optional()
      .describe(
        "X-Ray traces, on by default: the gateway's own, each event function's (active tracing, with the runtime's spans inside it) and each AgentCore runtime's",
      ),
    logs: bool('logs')
      .optional()
      .describe("The gateway's application logs, delivered to a log group of the stack; on by default"),
    instructions: z.string().optional().describe('Instructions the gateway gives MCP clients'),
    description: z.string().optional().describe('Gateway description'),
    interceptors: interceptorsSchema.optional(),
    rateLimits: rateLimitsSchema.optional(),
    sessionTimeout: wholeNumber(
      'AgentCore Gateway session timeout, seconds',
      ['second', 'seconds'],
      GATEWAY_SESSION_MIN_S,
      GATEWAY_SESSION_MAX_S,
      "AgentCore Gateway's",
    )
      .optional()
      .describe(
        `Turns the gateway's MCP sessions on: one session per client, each keeping its session with every MCP-server target, ended this many seconds after it began. On by default (${GATEWAY_SESSION_DEFAULT_S} s) when a server's host is agentcore-runtime`,
      ),
    responseStreaming: bool('responseStreaming')
      .optional()
      .describe(
        "AgentCore Gateway's response streaming: a call's progress and log messages reach the caller as they come, and a server's questions to its client (elicitation, sampling, roots) are relayed through the gateway's sessions. On by default when the fleet has an MCP-server target",
      ),
  })
  .describe('The AgentCore Gateway in front of the fleet');

export const FLEET_SETTING_KEYS = [
  'version',
  'stack',
  'region',
  'gateway',
  'defaults',
  // issue 15: access policy and cost tags
  'policy',
  'tags',
] as const;

export const serversMapSchema = map(serverSchema, 'servers (id: definition)');

export const fleetSchema = z
  .strictObject(
    {
      $schema: z.string().optional(),
      version: z
        .literal(1, { error: (iss) => `${shown(iss)} is not a supported config version; use 1` })
        .optional(),
      stack: z
        .string()
        .regex(STACK_NAME_PATTERN, {
          error: (iss) =>
            `${shown(iss)} is not a valid CloudFormation stack name; start with a letter, then letters, digits and '-', at most 128`,
        })
        .optional()
        .describe(`CloudFormation stack name (default ${DEFAULTS.stack})`),
      region: z
        .string()
        .regex(AWS_REGION_PATTERN, {
          error: (iss) => `${shown(iss)} is not an AWS region name; e.g. us-east-1`,
        })
        .optional()
        .describe('AWS region to deploy to (default: from the AWS environment)'),
      gateway: gatewaySchema.optional(),
      defaults: defaultsSchema.optional(),
      policy: policySchema.optional(),
      tags: tagsSchema.optional(),
      servers: serversMapSchema.describe('The servers, by id; each becomes function mcp-server-<id>'),
    },
    { error: (iss) => `expected a map of servers, got ${got(iss)}` },
  )
  .describe('mcp-fleet servers.yaml');

export type RawServer = z.output<typeof serverSchema>;
export type RawDefaults = z.output<typeof defaultsSchema>;
export type RawFleet = z.output<typeof fleetSchema>;
export type RawSecret = z.output<typeof secretSchema>;

/** The generic messages for issues a field did not word itself. */
export function genericMessage(iss: Issue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${iss.expected}, got ${got(iss)}`;
    case 'too_small':
      return iss.origin === 'array'
        ? `the list is empty; give at least ${String(iss.minimum)}`
        : `too small; the minimum is ${String(iss.minimum)}`;
    case 'invalid_value':
      return `${shown(iss)} is not allowed; use ${oneOf(iss.values.map(String))}`;
    default:
      return undefined;
  }
}
