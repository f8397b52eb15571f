import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  deriveTargetName,
  formatProblem,
  loadConfig,
  parseConfig,
  toLaunchSpec,
} from '../../src/config/index.js';
import { DEFAULTS } from '../../src/config/limits.js';
import { ROOT, fixture } from '../helpers.js';

const SEED_IDS = [
  'core-mcp',
  'aws-docs',
  'aws-pricing',
  'frontend',
  'aws-location',
  'git-repo-research',
  'eks-mcp',
  'aws-diagram',
  'prometheus',
  'cfn',
  'terraform',
  'aws-knowledge',
  'cloudwatch',
  'cloudwatch-appsignals',
  'ccapi',
  'github',
  'git',
  'filesystem',
];

describe('the seed document form', () => {
  test('a bare map of servers with the seed fields loads, with the download warnings', async () => {
    const { config, problems } = await loadConfig(fixture('config', 'good', 'seed-form.yaml'));
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.deepEqual(
      config.servers.map((s) => s.id),
      ['core-mcp', 'eks-mcp', 'git'],
    );
    const eks = config.servers[1]!;
    assert.equal(eks.name, 'AWS Labs EKS MCP Server');
    assert.equal(eks.command, 'uvx');
    assert.deepEqual(eks.args, ['awslabs.eks-mcp-server@latest']);
    assert.deepEqual(eks.env, { FASTMCP_LOG_LEVEL: 'ERROR', AWS_REGION: 'us-east-1' });
    assert.equal(eks.timeout, 120);
    assert.equal(eks.memory, 2048);
    assert.equal(eks.functionName, 'mcp-server-eks-mcp');
    assert.equal(eks.gateway.target, 'eks-mcp');
    assert.equal(eks.source.line, 13);
    const warnings = problems.map(formatProblem);
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0]!,
      /seed-form\.yaml:5:12 warning: core-mcp\.command: "uvx" downloads the server at every cold start/,
    );
    assert.match(warnings[1]!, /seed-form\.yaml:16:12 warning: eks-mcp\.command: "uvx"/);
  });

  test('defaults fill what the seed form leaves out', () => {
    const { config } = parseConfig('git:\n  command: mcp-server-git\n');
    assert.ok(config);
    const git = config.servers[0]!;
    assert.equal(git.name, 'git');
    assert.equal(git.timeout, 60);
    assert.equal(git.memory, 1024);
    assert.equal(git.isolation, 'warm');
    assert.equal(git.aws.architecture, 'arm64');
    assert.equal(git.aws.logRetentionDays, 30);
    assert.equal(git.enabled, true);
    assert.equal(config.stack, 'McpFleet');
    assert.equal(config.gateway.auth, 'cognito');
    assert.equal(config.file, 'servers.yaml');
  });
});

describe('the servers: form', () => {
  test('defaults are inherited: maps merged, other values replaced', async () => {
    const { config, problems } = await loadConfig(fixture('config', 'good', 'defaults.yaml'));
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.equal(config.stack, 'Fleet-1');
    assert.equal(config.region, 'eu-central-1');
    assert.deepEqual(config.gateway, {
      name: 'my-gateway',
      auth: 'iam',
      search: true,
      tracing: true,
      logs: true,
      // No MCP-server target in this fleet: nothing to stream.
      responseStreaming: false,
    });
    const [one, two, disabled] = config.servers;
    assert.ok(one && two && disabled);
    assert.deepEqual(one.env, { LOG_LEVEL: 'info', SHARED: 'from-server', PORT: '8080' });
    assert.equal(one.timeout, 45);
    assert.equal(one.memory, 768);
    assert.equal(one.aws.architecture, 'x86_64');
    assert.equal(one.aws.logRetentionDays, 14);
    assert.equal(one.aws.reservedConcurrency, 5);
    assert.equal(two.timeout, 900);
    assert.deepEqual(two.args, ['--flag', '3', 'true']);
    assert.equal(two.isolation, 'per-invocation');
    assert.deepEqual(two.secrets, {
      API_TOKEN: {
        source: 'secretsManager',
        secret: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:api-AbCdEf',
        key: 'token',
      },
      DB_PASSWORD: { source: 'ssm', parameter: '/fleet/db/password' },
    });
    assert.deepEqual(two.verify, { tool: 'read', arguments: { path: '/tmp/x' } });
    assert.equal(disabled.enabled, false);
  });

  test('an id AgentCore refuses is mapped to a target name and reported', async () => {
    const { config, problems } = await loadConfig(fixture('config', 'good', 'defaults.yaml'));
    assert.ok(config);
    const two = config.servers.find((s) => s.id === 'two_words');
    assert.ok(two);
    assert.equal(two.gateway.target, 'two-words');
    assert.equal(two.functionName, 'mcp-server-two_words');
    assert.deepEqual(problems.map(formatProblem), [
      `${fixture('config', 'good', 'defaults.yaml')}:22:3 warning: two_words: "two_words" is not a valid AgentCore target name (letters, digits, single '-'); its target is named "two-words"; set gateway.target to choose another`,
    ]);
  });

  test('a warning on an inherited value points at defaults', () => {
    const text =
      'defaults:\n  isolation: per-invocation\n  recycle: { maxInvocations: 10 }\nservers:\n  a:\n    command: a\n';
    const { config, problems } = parseConfig(text);
    assert.ok(config);
    assert.deepEqual(problems.map(formatProblem), [
      'servers.yaml:3:3 warning: defaults.recycle: recycle has no effect with isolation: per-invocation (every call gets a fresh process)',
    ]);
  });

  test('the launch spec carries what the runtime needs, as copies', async () => {
    const { config } = await loadConfig(fixture('config', 'good', 'defaults.yaml'));
    const two = config?.servers[1];
    assert.ok(two);
    const spec = toLaunchSpec(two);
    assert.deepEqual(spec, {
      id: 'two_words',
      name: 'two_words',
      command: 'server-two',
      args: ['--flag', '3', 'true'],
      env: { LOG_LEVEL: 'info', SHARED: 'from-defaults' },
      shell: false,
      timeout: 900,
      isolation: 'per-invocation',
      recycle: {},
      tools: { allow: ['read_*', 'list_*'], deny: ['read_secret'], rename: { read_file: 'read' } },
      secrets: two.secrets,
    });
    spec.args.push('mutated');
    assert.deepEqual(two.args, ['--flag', '3', 'true']);
  });
});

describe('gateway target kinds', () => {
  test("a server is a lambda target by default, with AgentCore's listing defaults", () => {
    const { config } = parseConfig('git:\n  command: mcp-server-git\n');
    assert.ok(config);
    assert.deepEqual(config.servers[0]!.gateway, {
      target: 'git',
      description: 'git',
      targetType: 'lambda',
      listingMode: 'default',
      resourcePriority: 1000,
      signingService: 'lambda',
    });
  });

  test('defaults.gateway sets the kind of every server; a server may choose its own', () => {
    const { config, problems } = parseConfig(
      [
        'defaults:',
        '  gateway: { targetType: mcp, listingMode: dynamic }',
        'servers:',
        '  everything:',
        '    command: mcp-server-everything',
        '    gateway: { target: ev, resourcePriority: 10 }',
        '  git:',
        '    command: mcp-server-git',
        '    gateway: { targetType: lambda }',
        '',
      ].join('\n'),
    );
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.deepEqual(problems, []);
    assert.deepEqual(config.servers[0]!.gateway, {
      target: 'ev',
      description: 'everything',
      targetType: 'mcp',
      listingMode: 'dynamic',
      resourcePriority: 10,
      signingService: 'lambda',
    });
    // The inherited listingMode does not make a lambda target wrong: only its own setting would.
    assert.equal(config.servers[1]!.gateway.targetType, 'lambda');
  });

  test('listingMode or resourcePriority set on a lambda target is a warning where it is written', () => {
    const { config, problems } = parseConfig(
      'git:\n  command: mcp-server-git\n  gateway:\n    listingMode: dynamic\n    resourcePriority: 5\n',
    );
    assert.ok(config);
    assert.deepEqual(problems.map(formatProblem), [
      'servers.yaml:4:5 warning: git.gateway.listingMode: listingMode applies to mcp targets only; this server is a lambda target (set gateway.targetType: mcp, or remove it)',
      'servers.yaml:5:5 warning: git.gateway.resourcePriority: resourcePriority applies to mcp targets only; this server is a lambda target (set gateway.targetType: mcp, or remove it)',
    ]);
  });
});

describe('hosts', () => {
  test('a server runs as a function by default: one call per environment, nothing in its launch spec', () => {
    const { config } = parseConfig('git:\n  command: mcp-server-git\n');
    assert.ok(config);
    assert.deepEqual(config.servers[0]!.hosting, {
      host: 'function',
      environmentConcurrency: 1,
      concurrency: 1,
      processes: 1,
    });
    assert.equal(toLaunchSpec(config.servers[0]!).host, undefined);
  });

  test('defaults set the host; a web function is an mcp target; concurrency × processes caps the environment', () => {
    const { config, problems } = parseConfig(
      [
        'defaults:',
        '  host: web-function',
        '  maxEnvironments: 4',
        'servers:',
        '  everything:',
        '    command: mcp-server-everything',
        '  git:',
        '    command: mcp-server-git',
        '    concurrency: 1',
        '    processes: 3',
        '  memory:',
        '    command: mcp-server-memory',
        '    host: managed-instances',
        '    minEnvironments: 1',
        '    capacityProvider: { subnetIds: [subnet-0123456789abcdef0], securityGroupIds: [sg-0123456789abcdef0] }',
        '',
      ].join('\n'),
    );
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.deepEqual(problems, []);
    const [everything, git, memory] = config.servers;
    // The measured default: 32 calls per process, up to 4 processes; 64 calls per environment,
    // as Lambda's default maxConcurrencyPerEnvironment.
    assert.deepEqual(everything!.hosting, {
      host: 'web-function',
      environmentConcurrency: 64,
      concurrency: 32,
      processes: 4,
      maxEnvironments: 4,
    });
    assert.equal(everything!.gateway.targetType, 'mcp');
    assert.deepEqual(git!.hosting, {
      host: 'web-function',
      environmentConcurrency: 3,
      concurrency: 1,
      processes: 3,
      maxEnvironments: 4,
    });
    const launch = toLaunchSpec(git!);
    assert.deepEqual([launch.host, launch.concurrency, launch.processes], ['web-function', 1, 3]);
    assert.equal(memory!.hosting.host, 'managed-instances');
    assert.equal(memory!.hosting.minEnvironments, 1);
    assert.deepEqual(memory!.hosting.capacityProvider?.subnetIds, ['subnet-0123456789abcdef0']);
    assert.equal(memory!.gateway.targetType, 'lambda');
  });

  test('agentcore-runtime: one server process per session, its lifecycle defaults, an mcp target, gateway sessions on', () => {
    const { config, problems } = parseConfig(
      [
        'servers:',
        '  memory:',
        '    command: mcp-server-memory',
        '    host: agentcore-runtime',
        '    state: session',
        '    idleTimeout: 600',
        '    env: { MEMORY_FILE_PATH: "${MCP_FLEET_SESSION_DIR}/memory.jsonl" }',
        '  git:',
        '    command: mcp-server-git',
        '    host: agentcore-runtime',
        '    concurrency: 1',
        '',
      ].join('\n'),
    );
    assert.ok(config, problems.map(formatProblem).join('\n'));
    assert.deepEqual(problems, []);
    const [memory, git] = config.servers;
    assert.deepEqual(memory!.hosting, {
      host: 'agentcore-runtime',
      environmentConcurrency: 8,
      concurrency: 8,
      processes: 1,
      session: { idleTimeout: 600, maxLifetime: 28_800 },
    });
    assert.equal(memory!.state, 'session');
    assert.equal(memory!.gateway.targetType, 'mcp');
    assert.deepEqual(git!.hosting.session, { idleTimeout: 900, maxLifetime: 28_800 });
    assert.equal(git!.hosting.concurrency, 1);
    assert.equal(git!.state, undefined);
    // A session host turns the gateway's sessions on, with AgentCore's default timeout.
    assert.equal(config.gateway.sessionTimeout, 3600);
    const launch = toLaunchSpec(memory!);
    assert.deepEqual([launch.host, launch.concurrency, launch.processes], ['agentcore-runtime', 8, 1]);
  });

  test('gateway sessions stay off without a session host, unless sessionTimeout is written', () => {
    const off = parseConfig('git:\n  command: mcp-server-git\n').config;
    assert.equal(off?.gateway.sessionTimeout, undefined);
    const on = parseConfig(
      'gateway:\n  sessionTimeout: 7200\nservers:\n  git:\n    command: mcp-server-git\n',
    );
    assert.equal(on.config?.gateway.sessionTimeout, 7200, on.problems.map(formatProblem).join('\n'));
  });

  test('response streaming: on with an MCP-server target, off without one, as written when written', () => {
    const lambdaOnly = parseConfig('git:\n  command: mcp-server-git\n').config;
    assert.equal(lambdaOnly?.gateway.responseStreaming, false);
    const mcp = parseConfig('git:\n  command: mcp-server-git\n  gateway: { targetType: mcp }\n').config;
    assert.equal(mcp?.gateway.responseStreaming, true);
    const off = parseConfig(
      'gateway:\n  responseStreaming: false\nservers:\n  git:\n    command: mcp-server-git\n    gateway: { targetType: mcp }\n',
    );
    assert.equal(off.config?.gateway.responseStreaming, false, off.problems.map(formatProblem).join('\n'));
    const bad = parseConfig(
      'gateway:\n  responseStreaming: sometimes\nservers:\n  git:\n    command: mcp-server-git\n',
    );
    assert.equal(bad.config, undefined);
    assert.match(bad.problems.map(formatProblem).join('\n'), /responseStreaming/);
  });
});

describe('the default concurrency', () => {
  test("is what the seed fleet's measurement recommends, per kind of host (examples/seed/server-concurrency.json)", async () => {
    const results = JSON.parse(
      await readFile(path.join(ROOT, 'examples', 'seed', 'server-concurrency.json'), 'utf8'),
    ) as { recommendation?: { concurrency?: number; sessionConcurrency?: number } };
    assert.deepEqual(results.recommendation, {
      concurrency: DEFAULTS.concurrency,
      sessionConcurrency: DEFAULTS.sessionConcurrency,
    });
  });
});

describe('target names', () => {
  const cases: [string, string | undefined][] = [
    ['eks-mcp', 'eks-mcp'],
    ['Git2', 'Git2'],
    ['my_server', 'my-server'],
    ['a__b', 'a-b'],
    ['a--b', 'a-b'],
    ['_lead', 'lead'],
    ['__', undefined],
    ['---', undefined],
  ];
  for (const [id, target] of cases) {
    test(`${id.slice(0, 20)} → ${String(target)}`, () => {
      assert.equal(deriveTargetName(id), target);
    });
  }
});

describe('shipped configs', () => {
  test('examples/seed/servers.yaml has the 18 seed servers, pinned, and validates', async () => {
    const file = path.join(ROOT, 'examples', 'seed', 'servers.yaml');
    const { config, problems } = await loadConfig(file);
    assert.ok(config, problems.map(formatProblem).join('\n'));
    const ids = config.servers.map((s) => s.id);
    for (const id of SEED_IDS) assert.ok(ids.includes(id), `missing seed server ${id}`);
    assert.ok(
      ids.includes('aws-iac') && ids.includes('cloudwatch-applicationsignals'),
      'successors are listed',
    );
    for (const s of config.servers) {
      assert.ok(s.package, `${s.id} has no pinned package`);
      assert.notEqual(s.command, 'uvx');
      assert.equal(s.functionName, `mcp-server-${s.id}`);
    }
    const kinds = new Set(config.servers.map((s) => s.package?.kind));
    assert.deepEqual([...kinds].sort(), ['go', 'npm', 'pypi']);
    const deprecated = config.servers.filter((s) => s.deprecated !== undefined).map((s) => s.id);
    assert.deepEqual(
      deprecated.sort(),
      [
        'ccapi',
        'cfn',
        'cloudwatch-appsignals',
        'core-mcp',
        'frontend',
        'git-repo-research',
        'terraform',
        'aws-diagram',
      ].sort(),
    );
    assert.ok(problems.every((p) => p.severity === 'warning' && p.message.startsWith('deprecated upstream')));
  });

  test('the default servers.yaml validates with no problem', async () => {
    const { config, problems } = await loadConfig(path.join(ROOT, 'servers.yaml'));
    assert.ok(config);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      config.servers.map((s) => s.id),
      ['filesystem', 'memory', 'everything', 'git'],
    );
  });

  test('the versions pinned in the default fleet are the ones its lock file, package.json and the test tools have', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(await readFile(path.join(ROOT, 'mcp-fleet.lock.json'), 'utf8')) as {
      servers: Record<string, { package: string; resolved: string[]; resolution?: string }>;
    };
    const testTools = await readFile(path.join(ROOT, 'test', 'python-tools.txt'), 'utf8');
    const { config } = await loadConfig(path.join(ROOT, 'servers.yaml'));
    for (const s of config?.servers ?? []) {
      const p = s.package;
      if (p?.kind === 'npm') assert.equal(pkg.devDependencies[p.name], p.version, p.name);
      else if (p?.kind === 'pypi') {
        // What `npm start` installs (the committed lock, resolved by uv for every platform) …
        assert.equal(lock.servers[s.id]?.package, p.spec, `${s.id}: mcp-fleet.lock.json is of another pin`);
        assert.equal(lock.servers[s.id]?.resolution, 'universal');
        assert.ok(lock.servers[s.id]?.resolved.includes(`${p.name}==${p.version}`), p.spec);
        // … and what the tests that run it as a plain command install.
        assert.match(testTools, new RegExp(`^${p.name}==${p.version.replace(/\./g, '\\.')}$`, 'm'), p.spec);
      } else assert.fail(`${s.id}: unexpected package ${JSON.stringify(p)}`);
    }
  });
});

describe('gateway.tracing and gateway.logs', () => {
  test('on unless turned off; anything but a boolean is refused where it is written', () => {
    const servers = 'servers:\n  git:\n    command: mcp-server-git\n';
    const on = parseConfig(servers);
    assert.equal(on.config?.gateway.tracing, true);
    assert.equal(on.config?.gateway.logs, true);
    const off = parseConfig(`gateway:\n  tracing: false\n  logs: false\n${servers}`);
    assert.equal(off.config?.gateway.tracing, false);
    assert.equal(off.config?.gateway.logs, false);
    const bad = parseConfig(`gateway:\n  tracing: sometimes\n${servers}`).problems.map(formatProblem);
    assert.equal(bad.length, 1, bad.join('\n'));
    assert.match(bad[0] ?? '', /:2:12\b.*gateway\.tracing.*sometimes/);
  });
});
