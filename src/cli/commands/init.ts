import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig } from '../../config/index.js';
import { CliError, EXIT } from '../exit.js';
import { exists } from '../fs.js';
import { schemaComment } from '../paths.js';

/** Pinned versions of the starter servers (the npm reference servers run offline). */
export const STARTER_VERSIONS = {
  filesystem: '2026.8.31',
  memory: '2026.8.31',
  everything: '2026.8.31',
} as const;

export function starterConfig(file: string): string {
  return `# ${schemaComment(file)}
#
# mcp-fleet: a fleet of stdio MCP servers. Each server below becomes the AWS Lambda function
# mcp-server-<id> behind an Amazon Bedrock AgentCore Gateway (\`mcp-fleet deploy\`), and runs on
# this machine with no AWS account (\`mcp-fleet dev\`). Check this file with \`mcp-fleet validate\`.
# Every key is described in the README's configuration reference; editors that read the schema
# line above complete and check it as you type.

# CloudFormation stack name.
stack: McpFleet

# The AgentCore Gateway in front of the fleet. Tools are named <server id>___<tool>.
gateway:
  name: mcp-fleet
  auth: cognito # JWT from a Cognito user pool (default); or iam, or none

# Values every server inherits unless it sets its own.
defaults:
  timeout: 60 # Lambda timeout, seconds (1-900)
  memory: 1024 # Lambda memory, MB (128-10240)
  isolation: warm # one server process per Lambda environment, reused across calls
  aws:
    architecture: arm64

servers:
  # A knowledge graph kept in a file.
  memory:
    name: Memory
    description: Knowledge-graph memory (entities, relations, observations)
    package: { npm: "@modelcontextprotocol/server-memory@${STARTER_VERSIONS.memory}" }
    command: mcp-server-memory
    env:
      MEMORY_FILE_PATH: /tmp/mcp-fleet-memory.jsonl # Lambda can only write under /tmp
    verify: { tool: read_graph }

  # Read and write files under the directories given as arguments.
  filesystem:
    name: Filesystem
    description: Read, write and search files in the allowed directories
    package: { npm: "@modelcontextprotocol/server-filesystem@${STARTER_VERSIONS.filesystem}" }
    command: mcp-server-filesystem
    args: ["."]
    tools:
      deny: ["write_*", "edit_*", "move_*", "create_*"] # read-only
    verify: { tool: list_allowed_directories }

  # The MCP reference server that exercises every protocol feature.
  everything:
    name: Everything
    description: MCP reference server with a tool for every protocol feature
    package: { npm: "@modelcontextprotocol/server-everything@${STARTER_VERSIONS.everything}" }
    command: mcp-server-everything
    verify: { tool: echo, arguments: { message: hello } }

  # More servers: see examples/seed/servers.yaml in the mcp-fleet package for the AWS Labs
  # servers (PyPI), the GitHub server (Go) and git (PyPI), or convert your MCP client's
  # config with \`mcp-fleet import claude_desktop_config.json\`.
`;
}

export async function initCommand(file: string, options: { force?: boolean }): Promise<number> {
  if (options.force !== true && (await exists(file))) {
    throw new CliError(`${file} already exists; use --force to overwrite it`);
  }
  const text = starterConfig(file);
  const check = parseConfig(text, { file });
  if (check.config === undefined) {
    throw new CliError(
      `internal error: the starter config does not validate:\n${check.problems.map((p) => p.message).join('\n')}`,
    );
  }
  const dir = path.dirname(path.resolve(file));
  await mkdir(dir, { recursive: true });
  await writeFile(file, text);
  // So that the CDK CLI (`npx cdk deploy`) works on the fleet as well as `mcp-fleet deploy`.
  const cdkJson = path.join(dir, 'cdk.json');
  const wroteCdk = !(await exists(cdkJson));
  if (wroteCdk) {
    const app = `npx mcp-fleet cdk-app --config ${path.basename(file)}`;
    await writeFile(cdkJson, `${JSON.stringify({ app, output: 'cdk.out' }, null, 2)}\n`);
  }
  process.stdout.write(
    `Wrote ${file} with ${check.config.servers.length} servers (${check.config.servers.map((s) => s.id).join(', ')})` +
      `${wroteCdk ? ', and cdk.json' : ''}.\n` +
      `Next: mcp-fleet validate ${file}; mcp-fleet dev; mcp-fleet build; mcp-fleet deploy\n`,
  );
  return EXIT.OK;
}
