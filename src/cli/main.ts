#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT } from './exit.js';
import { PACKAGE_ROOT } from './paths.js';

const DEFAULT_CONFIG = 'servers.yaml';

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const examples = (lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

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
      `${examples(['mcp-fleet init', 'mcp-fleet validate', 'mcp-fleet import ~/.config/Claude/claude_desktop_config.json --out servers.yaml'])}
Exit codes: 0 success, 1 problems found or the command failed, 2 wrong usage.`,
    );

  program
    .command('validate')
    .description(
      'Check a servers.yaml and report every problem at once, as FILE:LINE:COLUMN server.key: message',
    )
    .argument('[file]', 'the config file', DEFAULT_CONFIG)
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(['mcp-fleet validate', 'mcp-fleet validate examples/seed/servers.yaml --json']),
    )
    .action(async (file: string, opts: { json?: boolean }) => {
      const { validateCommand } = await import('./commands/validate.js');
      process.exitCode = await validateCommand(file, opts);
    });

  program
    .command('init')
    .description('Write a commented starter servers.yaml of servers that run offline')
    .argument('[file]', 'where to write it', DEFAULT_CONFIG)
    .option('-f, --force', 'overwrite an existing file')
    .addHelpText('after', examples(['mcp-fleet init', 'mcp-fleet init fleet/servers.yaml --force']))
    .action(async (file: string, opts: { force?: boolean }) => {
      const { initCommand } = await import('./commands/init.js');
      process.exitCode = await initCommand(file, opts);
    });

  program
    .command('import')
    .description(
      'Convert an MCP client config (Claude Desktop / Cursor "mcpServers", VS Code .vscode/mcp.json "servers") into servers.yaml',
    )
    .argument('<file>', 'the client config (JSON, comments allowed)')
    .option('-o, --out <file>', 'write servers.yaml here instead of standard output')
    .option('-f, --force', 'overwrite --out if it exists')
    .addHelpText(
      'after',
      examples([
        'mcp-fleet import ~/Library/Application\\ Support/Claude/claude_desktop_config.json',
        'mcp-fleet import .vscode/mcp.json --out servers.yaml',
      ]),
    )
    .action(async (file: string, opts: { out?: string; force?: boolean }) => {
      const { importCommand } = await import('./commands/import.js');
      process.exitCode = await importCommand(file, opts);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of servers.yaml (for editors and other tools)')
    .addOption(new Option('-o, --out <file>', 'write it to a file'))
    .addHelpText('after', examples(['mcp-fleet schema > servers.schema.json']))
    .action(async (opts: { out?: string }) => {
      const { schemaCommand } = await import('./commands/schema.js');
      process.exitCode = await schemaCommand(opts);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
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
    if (err instanceof CliError) {
      process.stderr.write(`mcp-fleet: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(
      `mcp-fleet: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.FAILURE;
  }
}

process.exitCode = await main(process.argv);
