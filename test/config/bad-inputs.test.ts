import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatProblem, loadConfig } from '../../src/config/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'config', 'bad');

/**
 * Every bad input, with every problem `mcp-fleet validate` must report for it, in order:
 * `LINE:COLUMN path: message` (warnings say so). The whole list must match: nothing missing,
 * nothing extra.
 */
const expected: Record<string, string[]> = {
  'architecture-unknown.yaml': [
    '4:19 git.aws.architecture: "arm" is not a valid architecture; did you mean "arm64"?',
  ],
  'args-not-a-list.yaml': ['3:9 git.args: expected a list of arguments, got "--repository ." (text)'],
  'bad-id-characters.yaml': [
    '2:3 my.server: server id "my.server" has characters a Lambda function name cannot have ("."); use letters, digits, \'-\' and \'_\'',
  ],
  'defaults-out-of-range.yaml': [
    "2:11 defaults.memory: 100 is below Lambda's minimum of 128 MB; use 128–10240",
  ],
  'duplicate-key-in-server.yaml': [
    '5:5 duplicate key "timeout" (first defined on line 4); each key may appear once',
  ],
  'duplicate-server-id.yaml': [
    '5:1 duplicate server id "git" (first defined on line 1); each server id must be unique',
  ],
  'empty.yaml': ['1:1 the file is empty; expected a map of servers (see `mcp-fleet init`)'],
  'env-bad-name.yaml': [
    '4:5 git.env.GIT-TRACE: "GIT-TRACE" is not a valid environment variable name; use letters, digits and _, not starting with a digit',
  ],
  'env-not-a-map.yaml': ['3:8 git.env: expected a map of environment variables, got a list'],
  'env-value-a-map.yaml': [
    '4:16 git.env.GIT_TRACE: expected an environment value as text, got a map; quote it',
  ],
  'fleet-setting-in-seed-form.yaml': [
    '1:1 stack: "stack" is a fleet setting, allowed only when the servers are listed under "servers:"; move the servers under servers:',
  ],
  'fleet-settings-invalid.yaml': [
    '1:8 stack: "1-fleet" is not a valid CloudFormation stack name; start with a letter, then letters, digits and \'-\', at most 128',
    '2:9 region: "us-east" is not an AWS region name; e.g. us-east-1',
    '4:9 gateway.name: "my_gateway" is not a valid AgentCore gateway name; use letters and digits, single \'-\' between them, at most 48',
    '5:9 gateway.auth: "oauth" is not a valid gateway auth; use "cognito", "iam" or "none"',
  ],
  'gateway-kind-invalid.yaml': [
    '3:17 defaults.gateway.targetType: "http" is not a valid gateway target type; use "lambda" or "mcp"',
    '8:20 everything.gateway.listingMode: "DYNAMIC" is not a valid listing mode; did you mean "dynamic"?',
    '9:25 everything.gateway.resourcePriority: -1 is below 0; use 0 or more (lower wins)',
  ],
  'policy-cedar-file.yaml': [
    'policy-cedar-file-broken.cedar:2:38 policy.policies.broken: Cedar: unexpected token `unless`; expected `!=`, `&&`, `(`, `*`, `+`, `-`, `.`, `<`, `<=`, `==`, `>`, `>=`, `[`, `||`, `}`, or `in`',
    "policy-cedar-file.cedar:4:1 policy.policies.fleet: names Corp::Employee: AgentCore's policy schema has only AgentCore::OAuthUser, AgentCore::IamEntity, AgentCore::Action, AgentCore::Gateway",
    '5:22 policy.policies.missing.file: cannot read no-such-policy.cedar: no such file',
  ],
  'policy-cedar-syntax.yaml': [
    '9:56 policy.policies.readers: Cedar: unexpected token `}`; expected `!`, `(`, `-`, `[`, `{`, `false`, identifier, `if`, number, `?principal`, `?resource`, string literal, or `true`',
    '11:7 warning: policy.policies.others: policy "others" names tool "github___get_me", but the fleet has no target "github" (targets: git)',
  ],
  'policy-settings-invalid.yaml': [
    '2:9 policy.mode: "strict" is not a valid policy mode; use "log-only" or "enforce"',
    '4:5 policy.policies.read-only: "read-only" is not a valid AgentCore policy name; start with a letter, then letters, digits and _, at most 48',
    '5:9 policy.policies.ok: expected Cedar text or { file: <name>.cedar }, got a map',
  ],
  'tags-invalid.yaml': [
    '2:3 tags.aws:createdBy: tag key "aws:createdBy" starts with "aws:", which AWS reserves; choose another prefix',
    '8:20 git.tags.cost center: tag value "#42" has characters AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @',
    '9:7 git.tags.mcp-fleet:server: tag key "mcp-fleet:server" starts with "mcp-fleet:", which mcp-fleet sets itself (mcp-fleet:stack, mcp-fleet:server); choose another prefix',
  ],
  'gateway-target-invalid.yaml': [
    '4:13 git.gateway.target: "git_repo" is not a valid AgentCore target name; use letters and digits, single \'-\' between them, at most 100',
  ],
  'go-package-latest.yaml': [
    '5:9 github.package.go: "latest" is not a pinned Go module version; use a tag such as v1.2.3, not latest or a branch',
  ],
  'interceptors-bad-export.yaml': [
    '4:16 gateway.interceptors.request.handler: "interceptors-bad-export.mjs#not-a-name" is not a handler reference; use FILE or FILE#EXPORT, the export a JavaScript name (e.g. interceptors/auth.mjs#handler)',
  ],
  'interceptors-invalid.yaml': [
    '5:27 gateway.interceptors.request.passRequestHeaders: expected true or false for passRequestHeaders, got "yes please" (text)',
    '7:16 gateway.interceptors.response.handler: "redact.py" is a Python file; interceptors are Node.js handlers here (bundled with esbuild and run by the local Lambda service): write it as .mjs, .js, .cjs, .ts, .mts',
    "8:16 gateway.interceptors.response.timeout: 0 is below Lambda's minimum of 1 second; use 1–900",
    '9:7 gateway.interceptors.response.colour: unknown key "colour"; allowed: handler, passRequestHeaders, timeout, memory',
  ],
  'interceptors-missing-file.yaml': [
    "4:16 gateway.interceptors.response.handler: cannot read no-such-response.ts: no such file (relative to interceptors-missing-file.yaml's folder)",
  ],
  'iam-action-malformed.yaml': [
    '6:21 git.aws.iam.statements[0].actions[0]: "s3GetObject" is not an IAM action; use service:Action, e.g. s3:GetObject',
  ],
  'id-no-target-name.yaml': [
    '1:1 __: server id "__" cannot be made into an AgentCore target name; set gateway.target (letters, digits, single \'-\')',
  ],
  'id-too-long.yaml': [
    "1:1 an-mcp-server-id-that-is-far-too-long-for-a-lambda-function: server id is 59 characters: function name mcp-server-an-mcp-server-id-that-is-far-too-long-for-a-lambda-function would be 70, over Lambda's 64; use at most 53",
  ],
  'image-unpinned.yaml': [
    '4:12 github.package.image: "ghcr.io/github/github-mcp-server" is not pinned; add a version tag (not latest) or an @sha256 digest',
  ],
  'isolation-unknown.yaml': [
    '3:14 git.isolation: "cold" is not a valid isolation; use "warm" or "per-invocation"',
  ],
  'log-retention-not-allowed.yaml': [
    '4:23 git.aws.logRetentionDays: 10 is not a retention CloudWatch Logs accepts; use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
  ],
  'many-problems.yaml': [
    "4:14 git.timeout: 901 is above Lambda's maximum of 900 seconds; use 1–900",
    "5:13 git.memory: 127 is below Lambda's minimum of 128 MB; use 128–10240",
    '6:5 git.isolaton: unknown key "isolaton"; did you mean "isolation"?',
    '7:3 memory.command: required; the executable that starts the server on stdio, e.g. command: mcp-server-git',
    '9:3 bad/id: server id "bad/id" has characters a Lambda function name cannot have ("/"); use letters, digits, \'-\' and \'_\'',
  ],
  'memory-above-maximum.yaml': [
    "3:11 git.memory: 20480 is above Lambda's maximum of 10240 MB; use 128–10240",
  ],
  'memory-below-minimum.yaml': ["3:11 git.memory: 64 is below Lambda's minimum of 128 MB; use 128–10240"],
  'missing-command.yaml': [
    '1:1 memory.command: required; the executable that starts the server on stdio, e.g. command: mcp-server-git',
  ],
  'npm-package-bad-name.yaml': [
    '4:10 memory.package.npm: "Server Memory@1.0.0" is not an npm package spec; use name@version, e.g. @scope/name@1.2.3',
  ],
  'npm-package-no-version.yaml': [
    '4:10 memory.package.npm: "@modelcontextprotocol/server-memory" has no version; pin an exact one, e.g. @modelcontextprotocol/server-memory@1.2.3',
  ],
  'npm-package-range.yaml': [
    '3:19 memory.package.npm: "^2026.8.31" is a range, not a pinned version; pin an exact one, e.g. @modelcontextprotocol/server-memory@1.2.3',
  ],
  'pypi-package-range.yaml': [
    '4:11 eks.package.pypi: ">=0.2" is not a pinned version; pin an exact one with ==, e.g. awslabs.eks-mcp-server==1.2.3',
  ],
  'rename-collision.yaml': [
    '6:24 filesystem.tools.rename.read_media_file: "read_media_file" and "read_text_file" are both renamed to "read"; served names must be unique',
  ],
  'reserved-concurrency-negative.yaml': ['4:26 git.aws.reservedConcurrency: -1 is below 0; use 0 or more'],
  'secret-also-in-env.yaml': [
    '6:5 github.secrets.GITHUB_PERSONAL_ACCESS_TOKEN: "GITHUB_PERSONAL_ACCESS_TOKEN" is set both in env and in secrets; keep one',
  ],
  'secret-two-sources.yaml': [
    '4:35 github.secrets.GITHUB_PERSONAL_ACCESS_TOKEN: use exactly one of "ssm" or "secretsManager"',
  ],
  'server-not-a-map.yaml': [
    '1:6 git: expected a server definition (a map with at least "command"), got "mcp-server-git" (text)',
  ],
  'servers-a-list.yaml': ['2:3 servers: expected a map of servers (id: definition), got a list'],
  'servers-empty.yaml': ['2:10 servers: no servers defined; add at least one (see `mcp-fleet init`)'],
  'syntax-multiple-documents.yaml': [
    "3:1 YAML syntax error: a second document starts here ('---'); a servers.yaml holds one document",
  ],
  'syntax-nested-mapping.yaml': [
    '2:12 YAML syntax error: Nested mappings are not allowed in compact mappings',
  ],
  'syntax-tab-indent.yaml': ['2:1 YAML syntax error: Tabs are not allowed as indentation'],
  'syntax-unclosed-flow.yaml': [
    '4:3 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  'syntax-undefined-alias.yaml': [
    '3:8 alias *common refers to no anchor (&common) defined before it; define the anchor first',
  ],
  'target-name-collision.yaml': [
    '1:1 warning: my_server: "my_server" is not a valid AgentCore target name (letters, digits, single \'-\'); its target is named "my-server"; set gateway.target to choose another',
    '3:1 my-server: target name "my-server" is also used by server "my_server"; set gateway.target on one of them',
  ],
  'timeout-above-maximum.yaml': [
    "14:14 eks-mcp.timeout: 1200 is above Lambda's maximum of 900 seconds; use 1–900",
  ],
  'timeout-fraction.yaml': [
    '3:12 git.timeout: expected a whole number of seconds, got 1.5 (a number); use 1–900',
  ],
  'timeout-not-a-number.yaml': [
    '3:12 git.timeout: expected a whole number of seconds, got "sixty" (text); use 1–900',
  ],
  'timeout-zero.yaml': ["3:12 git.timeout: 0 is below Lambda's minimum of 1 second; use 1–900"],
  'top-level-list.yaml': ['1:1 expected a map of servers (id: definition) at the top level'],
  'two-package-sources.yaml': [
    '4:5 memory.package: "npm" or "pypi" given together; use exactly one package source',
  ],
  'host-managed-instances-memory.yaml': [
    '4:3 memory.memory: 1024 MB is below the 2048 MB a managed-instances function takes at least; use 2048 or more (or leave memory unset)',
  ],
  'host-rate-limit.yaml': [
    '5:16 everything.rateLimit: 150 requests per second is not a rate Lambda accepts; use 0, 100–1000 in steps of 100, or 2000–10000 in steps of 1000',
    '6:18 everything.concurrency: 0 is below 1; use 1 or more',
    '7:16 everything.processes: 65 is above 64; use at most 64',
    '8:22 everything.maxEnvironments: expected a whole number of environments, got 2.5 (a number)',
  ],
  'host-settings-not-for-this-host.yaml': [
    "8:5 git.rateLimit: rateLimit applies to host web-function; this server's host is function, and only a web function's endpoint has a rate limit; remove it or set host",
    '11:11 warning: memory.host: host managed-instances needs capacityProvider (subnetIds, securityGroupIds) to deploy; dev and tests run without it',
    "12:5 memory.rateLimit: rateLimit applies to host web-function; this server's host is managed-instances, and only a web function's endpoint has a rate limit; remove it or set host",
    '13:22 memory.minEnvironments: minEnvironments 4 is above maxEnvironments 2; use at most 2',
    "16:7 memory.gateway.signingService: signingService applies to host web-function (the gateway signs its calls to the endpoint); this server's host is managed-instances; remove it",
    "18:7 memory.aws.systemLogLevel: aws.systemLogLevel applies to host web-function (its platform events are JSON records with a level); this server's host is managed-instances, whose platform lines are text; remove it",
  ],
  'host-agentcore-runtime-ranges.yaml': [
    "2:19 gateway.sessionTimeout: 600 is below AgentCore Gateway's minimum of 900 seconds; use 900–28800",
    '7:12 memory.state: "sometimes" is not a valid state; use "none" or "session"',
    "11:18 fetch.idleTimeout: 30 is below AgentCore Runtime's minimum of 60 seconds; use 60–28800",
    "12:18 fetch.maxLifetime: 30000 is above AgentCore Runtime's maximum of 28800 seconds; use 60–28800",
  ],
  'host-agentcore-runtime-limits.yaml': [
    '3:14 warning: memory.command: MEMORY_FILE_PATH is not set: this server then keeps its state next to its install, which the sessions of one mcp-fleet dev share (on AgentCore each session is its own microVM); set MEMORY_FILE_PATH: ${MCP_FLEET_SESSION_DIR}/memory.jsonl',
    '5:5 memory.memory: an AgentCore Runtime session has a fixed 2 vCPU and 8 GB; there is no memory setting, remove it',
    "6:5 memory.processes: processes applies to hosts web-function and managed-instances; this server's host is agentcore-runtime, and a session keeps its state in its one server process; remove it or set host",
    "7:5 memory.environmentConcurrency: environmentConcurrency applies to hosts web-function and managed-instances; this server's host is agentcore-runtime, and a session's calls go to its own server process (use concurrency); remove it or set host",
    "8:5 memory.maxEnvironments: maxEnvironments applies to hosts web-function and managed-instances; this server's host is agentcore-runtime, and AgentCore Runtime starts one environment per session (its limit is active sessions per account); remove it or set host",
    '9:18 memory.idleTimeout: idleTimeout 3600 s is above maxLifetime 1800 s; AgentCore Runtime needs idleTimeout ≤ maxLifetime',
    '12:7 memory.aws.architecture: AgentCore Runtime runs arm64 containers only; remove it or use arm64',
    '13:7 memory.aws.reservedConcurrency: AgentCore Runtime has no reserved concurrency (its limit is active sessions per account); remove it',
    '14:7 memory.aws.functionUrl: an AgentCore Runtime is reached at its invocation URL; remove functionUrl',
    '16:7 memory.gateway.targetType: the gateway reaches an AgentCore Runtime only as an MCP-server target (it has no Lambda invoke); use mcp',
    '17:7 memory.gateway.signingService: signingService applies to host web-function; the gateway signs its calls to an AgentCore Runtime for bedrock-agentcore, always; remove it',
    "20:5 fetch.idleTimeout: idleTimeout applies to host agentcore-runtime; this server's host is function, and only AgentCore Runtime keeps a server per session (Lambda hosts end idle environments on their own); remove it or set host",
  ],
  // A server's schema errors do not hide the rules across its other settings.
  'host-errors-beside-schema-errors.yaml': [
    '5:5 memory.memory: a web function environment has a fixed 2 GB; there is no memory setting, remove it',
    '6:16 memory.rateLimit: 150 requests per second is not a rate Lambda accepts; use 0, 100–1000 in steps of 100, or 2000–10000 in steps of 1000',
    "7:5 memory.minEnvironments: minEnvironments applies to host managed-instances; this server's host is web-function, and only managed instances keep environments running; other hosts scale to zero; remove it or set host",
    // A host's setting with errors of its own still does not fit the host, and is said so.
    "8:5 memory.capacityProvider: capacityProvider applies to host managed-instances; this server's host is web-function, and only managed instances run on EC2 capacity you provide; remove it or set host",
    '8:37 memory.capacityProvider.subnetIds[0]: "subnet-1" is not a subnet id (subnet-…)',
    '8:67 memory.capacityProvider.securityGroupIds[0]: "sg-1" is not a security group id (sg-…)',
    '9:12 memory.aws.architecture: a web function runs on arm64 only; remove it or use arm64',
    '9:34 memory.aws.functionUrl: a web function is served on its own endpoint; remove functionUrl',
    '9:53 memory.aws.vpc: aws.vpc applies to host function; a web function reaches a VPC through a network connector, which mcp-fleet does not set up yet',
    '9:72 memory.aws.vpc.subnetIds[0]: "nope" is not a subnet id (subnet-…)',
  ],
  'host-from-defaults.yaml': [
    '4:3 git: host web-function (from defaults.host) runs a Node.js zip (nodejs24.x), and a pypi server needs its own container image; set host: function or agentcore-runtime on this server',
    '8:14 warning: fetch.command: "uvx" downloads the server at every cold start (seconds, and network access); declare it under package: and run the installed executable',
    '10:11 fetch.host: host managed-instances runs a Node.js zip (Node.js 22+), and "uvx" starts a Python server, which needs its own container image; use host: function or agentcore-runtime',
  ],
  'host-capacity-and-session-dir.yaml': [
    '7:29 warning: memory.environmentConcurrency: 100 calls per environment is more than its processes take (concurrency 8 × processes 2 = 16); the environment takes 16; raise concurrency or processes, or lower environmentConcurrency',
    "9:25 memory.env.MEMORY_FILE_PATH: ${MCP_FLEET_SESSION_DIR} is a session's own folder on host agentcore-runtime; on host web-function it would reach the server as written; use a path (under /tmp on Lambda) or set host: agentcore-runtime",
    '13:18 warning: everything.concurrency: 100 calls per process is more than the environment takes (environmentConcurrency 64); a process gets at most 64',
    '14:22 everything.maxEnvironments: 0 is below 1; use 1 or more (2 or more on host web-function)',
    '17:11 filesystem.host: "Web-Function" is not a valid host; did you mean "web-function"?',
    "21:7 git.aws.systemLogLevel: aws.systemLogLevel applies to host web-function (its platform events are JSON records with a level); this server's host is function, whose platform lines are text; remove it",
    "24:12 files.args[0]: ${MCP_FLEET_SESSION_DIR} is a session's own folder on host agentcore-runtime; on host function it would reach the server as written; use a path (under /tmp on Lambda) or set host: agentcore-runtime",
    "25:10 files.cwd: ${MCP_FLEET_SESSION_DIR} is a session's own folder on host agentcore-runtime; on host function it would reach the server as written; use a path (under /tmp on Lambda) or set host: agentcore-runtime",
    // server-memory keeps its graph next to its install unless MEMORY_FILE_PATH says otherwise.
    '27:14 warning: notes.command: MEMORY_FILE_PATH is not set: this server then keeps its state next to its install, which the sessions of one mcp-fleet dev share (on AgentCore each session is its own microVM); set MEMORY_FILE_PATH: ${MCP_FLEET_SESSION_DIR}/memory.jsonl',
    '33:30 warning: notes2.env.MEMORY_FILE_PATH: MEMORY_FILE_PATH is relative ("memory.jsonl"): this server then keeps its state next to its install, which the sessions of one mcp-fleet dev share (on AgentCore each session is its own microVM); set MEMORY_FILE_PATH: ${MCP_FLEET_SESSION_DIR}/memory.jsonl',
  ],
  'host-web-function-limits.yaml': [
    '6:11 fetch.host: host web-function runs a Node.js zip (nodejs24.x), and a pypi server needs its own container image; use host: function or agentcore-runtime',
    '7:5 fetch.memory: a web function environment has a fixed 2 GB; there is no memory setting, remove it',
    "8:5 fetch.isolation: isolation: per-invocation applies to host function; on web-function calls share the environment's warm servers (use concurrency: 1 for one call per process)",
    "9:29 fetch.environmentConcurrency: 200 is above a web function's 128 requests per environment; use 1–128",
    "10:22 fetch.maxEnvironments: a web function endpoint's maxEnvironments is at least 2; use 2–10000",
    '12:7 fetch.aws.architecture: a web function runs on arm64 only; remove it or use arm64',
    '13:7 fetch.aws.functionUrl: a web function is served on its own endpoint; remove functionUrl',
    '15:7 fetch.gateway.targetType: the gateway reaches a web function only as an MCP-server target (it has no Lambda invoke); use mcp',
  ],
  'unknown-key-far.yaml': [
    '3:3 git.colour: unknown key "colour"; allowed: name, description, command, args, cwd, shell, package, gateway, deprecated, verify, toolsFile, env, secrets, timeout, memory, isolation, recycle, host, concurrency, processes, environmentConcurrency, maxEnvironments, minEnvironments, rateLimit, capacityProvider, idleTimeout, maxLifetime, state, tools, aws, enabled, tags',
  ],
  'unknown-key-typo.yaml': ['3:3 git.timout: unknown key "timout"; did you mean "timeout"?'],
  'unknown-top-level-key.yaml': ['4:1 default: unknown key "default"; did you mean "defaults"?'],
  'verify-denied-tool.yaml': [
    '7:11 filesystem.verify.tool: "write_file" is denied by tools.deny "write_*"; verify must call a tool that is served',
  ],
};

test('every bad-input fixture has its expected problems listed', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  assert.deepEqual(files, Object.keys(expected).sort());
  assert.ok(files.length >= 25, `only ${files.length} bad inputs`);
});

for (const [name, problems] of Object.entries(expected)) {
  test(`bad input ${name}`, async () => {
    const file = path.join(dir, name);
    const result = await loadConfig(file);
    assert.equal(result.config, undefined, 'a file with errors yields no config');
    const got = result.problems.map((p) => {
      if (p.file !== file) {
        // A problem in a file the config names (a .cedar policy beside it): with that file's name.
        assert.equal(path.dirname(p.file), dir);
        return formatProblem(p).slice(dir.length + 1);
      }
      return formatProblem(p).slice(file.length + 1);
    });
    assert.deepEqual(got, problems);
  });
}
