#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { FleetError } from '../contract/errors.js';
import { EXIT, exitCodeFor } from './exit.js';
import {
  buildDirOption,
  collect,
  concurrencyOption,
  configOption,
  DEFAULT_CONFIG,
  endpointOption,
  forceOption,
  jsonOption,
  noBuildOption,
  onlyOption,
  plainOption,
  regionOption,
  tokenOption,
  yesOption,
} from './options.js';
import { PACKAGE_ROOT } from './paths.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const examples = (lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

/**
 * A command's action: loads the module of the command when it runs (commands are loaded
 * lazily), calls it with commander's arguments and options, and sets the exit code it answers.
 */
function lazy<A extends unknown[]>(
  load: () => Promise<(...args: A) => Promise<number>>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    const run = await load();
    process.exitCode = await run(...args);
  };
}

/** The program: the commands in the order `--help` lists them, each declared by its own function. */
export function buildProgram(): Command {
  const program = new Command('mcp-fleet')
    .description(
      'Run a fleet of stdio MCP servers as AWS Lambda functions behind an Amazon Bedrock AgentCore Gateway, ' +
        'and the same fleet on this machine with no AWS account.',
    )
    .version(version(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `${examples(['mcp-fleet init', 'mcp-fleet validate', 'mcp-fleet dev', 'mcp-fleet invoke memory read_graph', 'mcp-fleet import ~/.config/Claude/claude_desktop_config.json --out servers.yaml'])}
Exit codes: 0 success, 1 problems found or the command failed, 2 wrong usage.`,
    );
  for (const declare of [
    validateCommand,
    initCommand,
    importCommand,
    devCommand,
    policyCommand,
    buildCommand,
    stackCommands,
    verifyCommand,
    planCommand,
    invokeCommand,
    toolsCommand,
    schemaCommand,
  ])
    declare(program);
  return program;
}

function validateCommand(program: Command): void {
  program
    .command('validate')
    .description(
      'Check a servers.yaml and report every problem at once, as FILE:LINE:COLUMN server.key: message',
    )
    .argument('[file]', 'the config file', DEFAULT_CONFIG)
    .addOption(jsonOption('machine-readable output'))
    .addHelpText(
      'after',
      examples(['mcp-fleet validate', 'mcp-fleet validate examples/seed/servers.yaml --json']),
    )
    .action(lazy(async () => (await import('./commands/validate.js')).validateCommand));
}

function initCommand(program: Command): void {
  program
    .command('init')
    .description('Write a commented starter servers.yaml of servers that run offline')
    .argument('[file]', 'where to write it', DEFAULT_CONFIG)
    .addOption(forceOption('overwrite an existing file'))
    .addHelpText('after', examples(['mcp-fleet init', 'mcp-fleet init fleet/servers.yaml --force']))
    .action(lazy(async () => (await import('./commands/init.js')).initCommand));
}

function importCommand(program: Command): void {
  program
    .command('import')
    .description(
      'Convert an MCP client config (Claude Desktop / Cursor "mcpServers", VS Code .vscode/mcp.json "servers") into servers.yaml',
    )
    .argument('<file>', 'the client config (JSON, comments allowed)')
    .option('-o, --out <file>', 'write servers.yaml here instead of standard output')
    .addOption(forceOption('overwrite --out if it exists'))
    .addHelpText(
      'after',
      examples([
        'mcp-fleet import ~/Library/Application\\ Support/Claude/claude_desktop_config.json',
        'mcp-fleet import .vscode/mcp.json --out servers.yaml',
      ]),
    )
    .action(lazy(async () => (await import('./commands/import.js')).importCommand));
}

function devCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'Build what is not built yet, then run the whole fleet on this machine: a local Lambda service (one function per server), its Invoke API, an AgentCore-compatible MCP gateway at /mcp, each server at /servers/<id>/mcp, and a status page; changes of the config file are applied while it runs',
    )
    .addOption(configOption())
    .option('-p, --port <port>', 'port to listen on (0: any free port)', '4040')
    .option('--host <host>', 'address to listen on; off loopback, --token is required', '127.0.0.1')
    .addOption(
      tokenOption(
        'require Authorization: Bearer <token> on every request but the status page (which asks for it)',
      ),
    )
    .option(
      '--allowed-host <name>',
      'also answer requests whose Host is this name (repeatable; .example.test: the domain and its subdomains); loopback names and IP addresses always are',
      collect,
    )
    .option(
      '--allowed-origin <origin>',
      "let browser pages of this origin call the fleet, with CORS (repeatable; e.g. http://localhost:6274); by default only the dev server's own pages may",
      collect,
    )
    .addOption(
      concurrencyOption('environments per function when aws.reservedConcurrency is not set (default 4)'),
    )
    .option('--search', 'add the x_amz_bedrock_agentcore_search tool to the gateway')
    .addOption(noBuildOption('build nothing: run servers from earlier builds, or their command on PATH'))
    .option('--no-watch', 'do not apply changes of the config file while running')
    .addOption(plainOption('build progress as plain lines (the default when stdout is not a terminal)'))
    .option(
      '--no-freeze',
      'leave environments running between invocations (default: frozen, as Lambda freezes them; see docs/architecture.md)',
    )
    .option(
      '--otlp <url>',
      "export every call's spans to this OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318/v1/traces)",
    )
    .option(
      '--no-tracing',
      'do not trace the calls (default: every call is a trace, the last ones in /status)',
    )
    .option(
      '--sandbox',
      'run each built zip function in a Lambda-like sandbox: its files read-only at /var/task, only /tmp writable, no program it does not carry (Linux, root)',
    )
    .option(
      '--memory-limits <mode>',
      "how each function's memory is enforced: auto (a cgroup where one can be made, else /proc sampling), cgroup, proc, or off (measure only)",
      'auto',
    )
    .option(
      '--principals <file>',
      'policy: who the gateway\'s callers are, a JSON or YAML map of bearer token → JWT claims ({ sub, … }) or { iam: ARN }; without it, every caller is AgentCore::OAuthUser "dev" with no claims',
    )
    .addOption(
      jsonOption(
        'one JSON object per line on stdout: ready (the URLs and the status model), each call, policy decision and reload, stopped; problems stay text on stderr',
      ),
    )
    .addHelpText(
      'after',
      examples([
        'mcp-fleet dev',
        'mcp-fleet dev --config examples/seed/servers.yaml --port 8080',
        'mcp-fleet dev --host 0.0.0.0 --token "$(openssl rand -hex 16)" --allowed-host devbox.local',
        'mcp-fleet dev --allowed-origin http://localhost:6274   # a browser-based MCP inspector',
      ]),
    )
    .action(lazy(async () => (await import('./commands/dev.js')).devCommand));
}

function policyCommand(program: Command): void {
  program
    .command('policy')
    .description("AgentCore Policy (the config's policy: section), offline")
    .command('test')
    .description(
      "Decide one tool call against the fleet's Cedar policies with the Cedar engine, as the gateway would: the decision, the policies that made it, whether tools/list shows the tool",
    )
    .argument('<tool>', 'the gateway tool name, <target>___<tool>')
    .addOption(configOption())
    .option(
      '--principal <json>',
      'the caller: JWT claims as JSON ({"sub": "bob", "role": "reader"}) or {"iam": "<ARN>"} (default: AgentCore::OAuthUser "dev", no claims)',
    )
    .option('--arguments <json>', "the tool's arguments as a JSON object (context.input)", '{}')
    .option('--expect <decision>', 'exit 1 unless the decision is this (allow or deny): for CI')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples([
        'mcp-fleet policy test memory___read_graph --principal \'{"sub": "bob", "role": "reader"}\'',
        'mcp-fleet policy test filesystem___read_text_file --arguments \'{"path": "secret.txt"}\' --expect deny',
      ]),
    )
    .action(lazy(async () => (await import('./commands/policy.js')).policyTestCommand));
}

function buildCommand(program: Command): void {
  program
    .command('build')
    .description(
      'Stage every server with its pinned package (npm → zip, Go → static binary zip, PyPI → container image + a host install), discover and lower its tools, and write the lock file',
    )
    .addOption(configOption())
    .option(
      '-o, --out <dir>',
      "build folder (default: the config's, .mcp-fleet/build beside servers.yaml; .mcp-fleet/<name>/build for <name>.yaml)",
    )
    .addOption(onlyOption())
    .addOption(concurrencyOption('servers built at the same time (default: CPUs, at most 4)'))
    .option('--force', 'stage again even when nothing changed')
    .option(
      '--prune-lock',
      'remove from the lock file the pins of servers no longer in the config (kept otherwise)',
    )
    .addOption(plainOption('one progress line per change instead of the live task list'))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples([
        'mcp-fleet build',
        'mcp-fleet build --config examples/seed/servers.yaml --only git filesystem',
        'mcp-fleet build --config servers.prod.yaml   # its own lock (servers.prod.lock.json) and build folder',
        'mcp-fleet build --prune-lock',
      ]),
    )
    .action(lazy(async () => (await import('./commands/build.js')).buildCommand));
}

/** synth, diff, deploy, destroy (the same options: config, build folder, assembly folder) and cdk-app. */
function stackCommands(program: Command): void {
  const stackCommand = (
    name: 'synth' | 'diff' | 'deploy' | 'destroy',
    description: string,
    exampleLines: string[],
  ): Command =>
    program
      .command(name)
      .description(description)
      .addOption(configOption())
      .addOption(buildDirOption())
      .option('-o, --out <dir>', 'cloud assembly folder (default: cdk.out beside the config)')
      .addOption(
        noBuildOption('use the last build as it is (default: build first; unchanged servers are reused)'),
      )
      .addHelpText('after', examples(exampleLines));
  const stack = async (): Promise<typeof import('./commands/stack.js')> => import('./commands/stack.js');

  stackCommand(
    'synth',
    'Build, then synthesize the CloudFormation template of the fleet (works offline; checked with cdk-nag AwsSolutions)',
    ['mcp-fleet synth', 'mcp-fleet synth --config examples/seed/servers.yaml --out cdk.out'],
  )
    .addOption(jsonOption())
    .action(lazy(async () => (await stack()).synthCommand));
  stackCommand('diff', 'Build, synthesize and compare with the deployed stack (needs AWS credentials)', [
    'mcp-fleet diff',
  ]).action(lazy(async () => (await stack()).diffCommand));
  stackCommand(
    'deploy',
    'Build, synthesize and deploy the stack through the CDK toolkit library (needs AWS credentials and a bootstrapped account)',
    ['mcp-fleet deploy', 'mcp-fleet deploy --yes'],
  )
    .addOption(yesOption('approve security-sensitive changes without asking'))
    .action(lazy(async () => (await stack()).deployCommand));
  stackCommand('destroy', "Delete the fleet's stack (needs AWS credentials)", ['mcp-fleet destroy --yes'])
    .addOption(yesOption('really delete it'))
    .action(lazy(async () => (await stack()).destroyCommand));
  program
    .command('cdk-app', { hidden: true })
    .description("cdk.json's app: synthesize into $CDK_OUTDIR (so `npx cdk` works)")
    .addOption(configOption())
    .addOption(buildDirOption('build folder'))
    .addOption(noBuildOption('use the last build as it is'))
    .action(lazy(async () => (await stack()).cdkAppCommand));
}

function verifyCommand(program: Command): void {
  program
    .command('verify')
    .description(
      "Check the fleet with real calls: per server, through the AWS SDK's LambdaClient, a JSON-RPC tools/list and an AgentCore-style call of its verify: tool; through the gateway's MCP endpoint, its tools and the same call",
    )
    .addOption(configOption())
    .addOption(endpointOption('Lambda API endpoint (default: the running `mcp-fleet dev`)'))
    .addOption(regionOption('verify the deployed fleet in this AWS region'))
    .option(
      '--gateway-url <url>',
      "the gateway's MCP endpoint (default: the dev fleet's /mcp, or the stack's GatewayUrl output)",
    )
    .addOption(tokenOption('bearer token for the gateway (default: $MCP_FLEET_GATEWAY_TOKEN)'))
    .addOption(onlyOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples([
        'mcp-fleet verify',
        'mcp-fleet verify --endpoint http://127.0.0.1:4040',
        'mcp-fleet verify --region us-east-1 --token "$TOKEN"',
      ]),
    )
    .action(lazy(async () => (await import('./commands/verify.js')).verifyCommand));
}

function planCommand(program: Command): void {
  program
    .command('plan')
    .description(
      'Advise a host for each server (function, web-function, managed-instances, agentcore-runtime) with the reasons, from its config and what dev and build measured, and estimate a month on each host',
    )
    .addOption(configOption())
    .addOption(new Option('--calls-per-month <n>', 'calls a month to each server (default 100000)'))
    .addOption(new Option('--rate <r>', 'calls a second to each server, on average (e.g. 2 or 0.5/s)'))
    .addOption(
      new Option(
        '--state <server=state>',
        'declare what a server keeps between calls: none or session (repeatable; wins over state: in the config)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--concurrency-results <file>',
        "bench:server-concurrency's results (bench/results/server-concurrency.json): which servers answer concurrent calls right",
      ),
    )
    .addOption(jsonOption('machine-readable output'))
    .addHelpText(
      'after',
      examples([
        'mcp-fleet plan',
        'mcp-fleet plan --rate 5/s --state memory=session',
        'mcp-fleet plan --config examples/seed/servers.yaml --calls-per-month 2000000 --json',
      ]),
    )
    .action(lazy(async () => (await import('./commands/plan.js')).planCommand));
}

function invokeCommand(program: Command): void {
  program
    .command('invoke')
    .description(
      'Call a tool the way AgentCore Gateway does (arguments as the event, tool name in the client context), through the Lambda API',
    )
    .argument('<server>', 'server id (or function name)')
    .argument('<tool>', 'tool name')
    .argument('[arguments]', 'the arguments, as a JSON object')
    .addOption(configOption('the config of the running dev fleet'))
    .addOption(endpointOption())
    .addOption(regionOption('call AWS Lambda in this region (with your AWS credentials)'))
    .addOption(tokenOption())
    .addOption(jsonOption('print the whole result as JSON'))
    .addHelpText(
      'after',
      examples([
        'mcp-fleet invoke memory read_graph',
        `mcp-fleet invoke filesystem read_text_file '{"path": "notes.txt"}'`,
        'mcp-fleet invoke git git_status \'{"repo_path": "."}\' --region us-east-1',
      ]),
    )
    .action(lazy(async () => (await import('./commands/invoke.js')).invokeCommand));
}

function toolsCommand(program: Command): void {
  program
    .command('tools')
    .description('List the tools of one server, or of every mcp-server-* function, through the Lambda API')
    .argument('[server]', 'server id (or function name)')
    .addOption(configOption('the config of the running dev fleet'))
    .addOption(endpointOption())
    .addOption(regionOption('list the functions in AWS Lambda in this region'))
    .addOption(tokenOption())
    .addOption(jsonOption('machine-readable output'))
    .addHelpText('after', examples(['mcp-fleet tools', 'mcp-fleet tools git --json']))
    .action(lazy(async () => (await import('./commands/tools.js')).toolsCommand));
}

function schemaCommand(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of servers.yaml (for editors and other tools)')
    .addOption(new Option('-o, --out <file>', 'write it to a file'))
    .addHelpText('after', examples(['mcp-fleet schema > servers.schema.json']))
    .action(lazy(async () => (await import('./commands/schema.js')).schemaCommand));
}

export async function main(argv: readonly string[]): Promise<number> {
  // The AWS SDK's notice that its releases after January 2027 need Node 22 is said once, in the README.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({
    outputError: (str, write) => {
      write(str);
    },
  });
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    // mcp-fleet's own failures (a CliError, or any FleetError a command let through): the
    // message as is, no stack; the exit code from the error's code.
    if (err instanceof FleetError) {
      process.stderr.write(`mcp-fleet: ${err.message}\n`);
      return exitCodeFor(err.code);
    }
    process.stderr.write(
      `mcp-fleet: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.FAILURE;
  }
}

// A reader that went away (`mcp-fleet tools | head`) ends the command quietly, as the other
// tools of a pipe do; any other failure of stdout is a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK);
});

process.exitCode = await main(process.argv);
