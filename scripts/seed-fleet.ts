/**
 * The seed document's fleet end to end (examples/seed/servers.yaml): build every server, synthesize
 * the stack (cfn-lint on the template), run the fleet as `mcp-fleet dev` does, list each server's
 * tools through the gateway and make one offline tool call per server that has one. Writes
 * docs/seed-fleet.md with the figures.
 *
 * Run: npm run seed-fleet   (test/seed/seed-fleet.test.ts runs the same and checks the outcome)
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { buildFleet, type FleetBuild } from '../src/build/build.js';
import { discoverLocally } from '../src/local/lambda/discovery.js';
import { generatedBlock, generatedDoc, runFacts, type RunFacts } from './generated-docs.js';
import { gitRepo } from './support.js';
import { pythonTool } from './python-tools.js';
import { loadConfigOrThrow } from '../src/config/index.js';
import type { FleetConfig } from '../src/config/model.js';
import { loadBuiltServers, synthStack } from '../src/deploy/deploy.js';
import { startFleet } from '../src/local/dev/fleet.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SEED_CONFIG = path.join(ROOT, 'examples', 'seed', 'servers.yaml');

/** A tool call that needs no network and no AWS account, with what its answer must contain. */
interface OfflineCall {
  tool: string;
  arguments: Record<string, unknown>;
  expect: RegExp;
}

/** Servers that cannot start offline, and why (they must fail fast with a clear start-up error). */
export const NEEDS_NETWORK: Record<string, { why: string; error: RegExp }> = {
  prometheus: { why: 'checks AWS credentials with STS before it answers', error: /credentials/i },
  'aws-knowledge': {
    why: 'bridges the remote AWS Knowledge MCP server',
    error: /connect|resolve|network|ConnectError|unreachable|getaddrinfo/i,
  },
};

/** Per server, one call that works here (none: every tool of the server needs AWS or the network). */
function offlineCalls(work: { dir: string; repo: string; terraform: string }): Record<string, OfflineCall> {
  return {
    'core-mcp': { tool: 'prompt_understanding', arguments: {}, expect: /MCP|server/i },
    'aws-pricing': { tool: 'get_bedrock_patterns', arguments: {}, expect: /Bedrock/i },
    frontend: {
      tool: 'GetReactDocsByTopic',
      arguments: { topic: 'essential-knowledge' },
      expect: /React/i,
    },
    'eks-mcp': {
      tool: 'get_eks_metrics_guidance',
      arguments: { resource_type: 'cluster' },
      expect: /cluster_/i,
    },
    'aws-diagram': {
      tool: 'generate_diagram',
      arguments: {
        code: "with Diagram('Seed fleet', show=False):\n    ELB('lb') >> EC2('web') >> RDS('db')",
        filename: 'seed-fleet',
        workspace_dir: work.dir,
      },
      expect: /seed-fleet\.png/,
    },
    terraform: {
      tool: 'RunCheckovScan',
      arguments: { working_directory: work.terraform, framework: 'terraform' },
      expect: /CKV_AWS_/,
    },
    cloudwatch: {
      tool: 'get_metric_metadata',
      arguments: { namespace: 'AWS/EC2', metric_name: 'CPUUtilization' },
      expect: /CPU/i,
    },
    'cloudwatch-applicationsignals': {
      tool: 'get_enablement_guide',
      arguments: {
        service_platform: 'lambda',
        service_language: 'python',
        iac_directory: work.terraform,
        app_directory: work.dir,
      },
      expect: /Application Signals/i,
    },
    ccapi: { tool: 'check_environment_variables', arguments: {}, expect: /AWS|environment/i },
    git: { tool: 'git_status', arguments: { repo_path: work.repo }, expect: /On branch/ },
    filesystem: {
      tool: 'read_text_file',
      arguments: { path: path.join(work.dir, 'hello.txt') },
      expect: /hello from the seed fleet/,
    },
    'aws-iac': {
      tool: 'validate_cloudformation_template',
      arguments: {
        template_content:
          'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n',
      },
      expect: /valid|error|warning/i,
    },
  };
}

export interface ServerRow {
  id: string;
  version: string;
  kind: string;
  /** The gateway target kind: `lambda` or `mcp`. */
  target: string;
  /** Bytes of the function root (zip) or the host install (image). */
  bytes?: number;
  tools?: number;
  warnings?: number;
  /** Cold start to the first tools/list (build's discovery), ms. */
  coldStartMs?: number;
  /** Where the build's tool list came from. */
  toolsSource?: string;
  /** Through the dev gateway. */
  listed?: number;
  startError?: string;
  call?: { tool: string; ok: boolean; ms: number; warmMs?: number; excerpt: string };
  buildError?: string;
  deprecated?: string;
}

export interface SeedFleetReport {
  /** When, from which commit and on which machine the run was made (taken as it started). */
  facts: RunFacts;
  buildMs: number;
  /** Servers staged by this run's build (the others were up to date). */
  staged: number;
  rows: ServerRow[];
  synth: { resources: number; nagWarnings: number; cfnLint: string } | { error: string };
  devStartMs: number;
  /** The build folder of the run. */
  buildDir: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] } | null)?.content ?? [];
  return content
    .map((c) => (c.type === 'text' ? (c.text ?? '') : `[${c.type}]`))
    .join('\n')
    .trim();
}

async function cfnLint(templateFile: string): Promise<string> {
  const exe = pythonTool('cfn-lint');
  try {
    await run(exe, [templateFile], { maxBuffer: 16 * 1024 * 1024 });
    return 'no findings';
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string };
    const lines = (e.stdout ?? '').split('\n');
    const errors = lines.filter((l) => /^E\d/.test(l)).length;
    const warnings = lines.filter((l) => /^W\d/.test(l)).length;
    return `${errors} errors, ${warnings} warnings`;
  }
}

export async function runSeedFleet(
  opts: {
    concurrency?: number;
    log?: (s: string) => void;
    /** The seed's servers.yaml, or a copy of examples/seed elsewhere (tests build in a copy). */
    configFile?: string;
  } = {},
): Promise<SeedFleetReport> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const facts = runFacts();
  const config: FleetConfig = await loadConfigOrThrow(opts.configFile ?? SEED_CONFIG);
  const rows = new Map<string, ServerRow>(
    config.servers.map((s) => [
      s.id,
      {
        id: s.id,
        version: s.package?.spec ?? s.command,
        kind: s.package?.kind ?? 'command',
        target: s.gateway.targetType,
        ...(s.deprecated !== undefined ? { deprecated: s.deprecated } : {}),
      },
    ]),
  );

  log(`building ${config.servers.length} servers …`);
  const built: FleetBuild = await buildFleet(config, {
    concurrency: opts.concurrency ?? 3,
    discover: discoverLocally,
    onProgress: (id, e) => {
      if (e.phase !== undefined && e.phase !== 'queued') log(`  ${id}: ${e.phase}`);
    },
  });
  for (const b of built.built) {
    const row = rows.get(b.server.id);
    if (!row) continue;
    Object.assign(row, {
      bytes: b.manifest.bytes,
      tools: b.manifest.tools.count,
      warnings: b.manifest.tools.warnings.length,
      toolsSource: b.manifest.tools.source,
      ...(b.manifest.tools.coldStartMs !== undefined ? { coldStartMs: b.manifest.tools.coldStartMs } : {}),
    });
  }
  for (const f of built.failed) {
    const row = rows.get(f.serverId);
    if (row) row.buildError = f.message.split('\n')[0] ?? f.message;
  }

  let synth: SeedFleetReport['synth'];
  const out = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-seed-synth-'));
  try {
    // The stack of every server that built (all of them, unless a machine lacks what one needs).
    const ok = new Set(built.built.map((b) => b.server.id));
    const fleet = { ...config, servers: config.servers.filter((sv) => ok.has(sv.id)) };
    const result = synthStack(fleet, await loadBuiltServers(fleet, built.outDir), out);
    synth = {
      resources: Object.keys(result.template['Resources'] as object).length,
      nagWarnings: result.nagWarnings.length,
      cfnLint: await cfnLint(result.templateFile),
    };
  } catch (err) {
    synth = { error: (err as Error).message };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  log(`synth: ${JSON.stringify(synth)}`);

  // The fleet as `mcp-fleet dev` runs it, from the build's host installs.
  const work = await mkdtemp('/tmp/mcp-fleet-seed-');
  const repo = path.join(work, 'repo');
  await gitRepo(repo);
  await writeFile(path.join(work, 'hello.txt'), 'hello from the seed fleet\n');
  const terraform = path.join(work, 'terraform');
  await mkdir(terraform);
  await writeFile(
    path.join(terraform, 'main.tf'),
    'resource "aws_s3_bucket" "data" {\n  bucket = "mcp-fleet-seed-example"\n}\n',
  );
  const calls = offlineCalls({ dir: work, repo, terraform });
  const t0 = performance.now();
  const fleet = await startFleet(config, {
    port: 0,
    env: {
      ...process.env,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      // As a developer would: the secret from the local environment (listing tools needs no real one).
      GITHUB_PERSONAL_ACCESS_TOKEN: process.env['GITHUB_PERSONAL_ACCESS_TOKEN'] ?? 'offline-placeholder',
    },
  });
  const devStartMs = performance.now() - t0;
  log(`dev fleet up in ${(devStartMs / 1000).toFixed(1)} s`);
  // The filesystem server of the seed serves /tmp, and terraform scans under its cwd, /tmp: each
  // environment's own /tmp, as in Lambda (docs/security.md). Their files go there, into the
  // environment the discovery started (the calls below find it warm).
  const ownTmp = (id: string): string | undefined =>
    fleet.lambda.forServer(id)?.environmentList.find((e) => e.tmp !== undefined)?.tmp;
  const tfTmp = ownTmp('terraform');
  if (tfTmp !== undefined && calls['terraform']) {
    await mkdir(path.join(tfTmp, 'terraform'), { recursive: true });
    await copyFile(path.join(terraform, 'main.tf'), path.join(tfTmp, 'terraform', 'main.tf'));
    calls['terraform'].arguments = {
      working_directory: path.join(tfTmp, 'terraform'),
      framework: 'terraform',
    };
  }
  const fsTmp = ownTmp('filesystem');
  if (fsTmp !== undefined && calls['filesystem']) {
    await copyFile(path.join(work, 'hello.txt'), path.join(fsTmp, 'hello.txt'));
    calls['filesystem'].arguments = { path: path.join(fsTmp, 'hello.txt') };
  }
  const client = new Client({ name: 'seed-fleet', version: '0.1.0' });
  try {
    for (const e of fleet.discovery) {
      const row = rows.get(e.serverId);
      if (!row) continue;
      if (e.error !== undefined) {
        // The reason and the server's last words (the end of its stderr).
        const lines = e.error
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        const last = lines.filter((l) => /(Error|Exception)\b|error:/i.test(l)).at(-1) ?? lines.at(-1) ?? '';
        row.startError = lines.length > 1 ? `${lines[0] ?? ''} … ${last}` : e.error;
      } else row.listed = e.tools.length;
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
    for (const server of config.servers) {
      const call = calls[server.id];
      const row = rows.get(server.id);
      if (!call || !row || row.listed === undefined) continue;
      const name = `${server.gateway.target}___${call.tool}`;
      const t = performance.now();
      const first = await client
        .callTool({ name, arguments: call.arguments }, { timeout: 120_000 })
        .catch((err: unknown) => ({
          isError: true,
          content: [{ type: 'text', text: (err as Error).message }],
        }));
      const ms = performance.now() - t;
      const body = text(first);
      const ok = first.isError !== true && call.expect.test(body);
      const warm: number[] = [];
      if (ok && server.id !== 'aws-diagram' && server.id !== 'terraform') {
        for (let i = 0; i < 5; i++) {
          const w = performance.now();
          await client.callTool({ name, arguments: call.arguments });
          warm.push(performance.now() - w);
        }
      }
      row.call = {
        tool: call.tool,
        ok,
        ms,
        ...(warm.length > 0 ? { warmMs: median(warm) } : {}),
        excerpt: body.replace(/\s+/g, ' ').slice(0, 90),
      };
      log(`  ${server.id}: ${call.tool} ${ok ? 'ok' : 'FAILED'} in ${ms.toFixed(0)} ms`);
    }
  } finally {
    await client.close().catch(() => undefined);
    await fleet.close();
    await rm(work, { recursive: true, force: true });
  }
  return {
    facts,
    buildMs: built.ms,
    staged: built.built.filter((b) => b.staged).length,
    rows: [...rows.values()],
    synth,
    devStartMs,
    buildDir: built.outDir,
  };
}

const mb = (b: number | undefined): string => (b === undefined ? '–' : `${(b / 2 ** 20).toFixed(1)} MB`);
const ms = (v: number | undefined): string =>
  v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The report's text: what was run, the figures, a row per server (the generated block's body). */
export function seedFleetMarkdown(r: SeedFleetReport): string {
  const lines = [
    '`mcp-fleet build` of examples/seed/servers.yaml, `synth`, then the fleet as `mcp-fleet dev` runs',
    "it (from the build's host installs), its gateway's `tools/list`, and one offline tool call per",
    'server through the gateway.',
    '',
    `- Build: ${(r.buildMs / 1000).toFixed(1)} s, ${r.staged} of ${r.rows.length} servers staged, the others up to date (the first build of the whole fleet is measured in [benchmarks.md](benchmarks.md#python-servers-first-build-of-the-seed-fleet-uv-vs-pip)).`,
    'error' in r.synth
      ? `- Synth: FAILED — ${r.synth.error}`
      : `- Synth: ${r.synth.resources} resources; cdk-nag AwsSolutions: no errors (${r.synth.nagWarnings} warnings); cfn-lint: ${r.synth.cfnLint}.`,
    `- Dev fleet start (every server started and listed): ${(r.devStartMs / 1000).toFixed(1)} s.`,
    '',
    '| server | package | kind | target | artifact | tools | lowering warnings | cold start → tools/list | offline call | first call | warm call | result |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ];
  for (const row of r.rows) {
    const result =
      row.buildError !== undefined
        ? `build failed: ${row.buildError}`
        : row.startError !== undefined
          ? `does not start here: ${row.startError}`
          : row.call !== undefined
            ? `${row.call.ok ? 'ok' : 'FAILED'}: ${row.call.excerpt}`
            : `${row.listed ?? 0} tools listed; no tool works without AWS or the network`;
    lines.push(
      `| ${row.id}${row.deprecated !== undefined ? ' (deprecated)' : ''} | \`${row.version}\` | ${row.kind} | ${row.target} | ${mb(row.bytes)} | ${row.tools ?? '–'}${row.toolsSource === 'file' ? ' (file)' : ''} | ${row.warnings ?? '–'} | ${ms(row.coldStartMs)} | ${row.call?.tool ?? '–'} | ${ms(row.call?.ms)} | ${ms(row.call?.warmMs)} | ${cell(result)} |`,
    );
  }
  lines.push(
    '',
    'Columns: *target* is the gateway target kind (`lambda`: schemas lowered at build time; `mcp`: an',
    'MCP-server target, its tools listed as the server gives them, nothing lowered); *artifact* is the',
    'function root of a zip function or the host install of an image function (uncompressed);',
    '*tools (file)* means the build took a checked-in `toolsFile` because the server cannot start',
    'offline; *cold start* is from starting a local Lambda environment to the first `tools/list`',
    'answer, measured by the build that staged the server (an up-to-date server keeps the figure of',
    'the build that staged it); *first call* includes a cold start where the fleet had none warm;',
    '*warm call* is the median of five more calls through the gateway.',
    '',
    'Servers that cannot start here fail fast with the reason: ' +
      Object.entries(NEEDS_NETWORK)
        .map(([id, n]) => `${id} (${n.why})`)
        .join(', ') +
      '.',
    '',
  );
  return lines.join('\n');
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await runSeedFleet();
  const doc = generatedDoc('seed-fleet');
  const file = path.join(ROOT, doc.file);
  // The block's record is taken now: the inputs as the run left them (the build may update the lock).
  const block = await generatedBlock(doc, report.facts, seedFleetMarkdown(report));
  await writeFile(file, `# The seed fleet, end to end\n\n${block}\n`);
  process.stderr.write(`wrote ${path.relative(ROOT, file)}\n`);
}
