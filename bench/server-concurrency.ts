/**
 * How many calls one warm stdio server process takes at once. For every seed server that starts
 * offline here (examples/seed/servers.yaml, run from `mcp-fleet build`'s host installs with the
 * environment `mcp-fleet dev` gives it) and the npm reference servers the tests use
 * (server-everything, server-filesystem, server-memory, from node_modules): spawn the server on
 * stdio (the runtime's own ChildProcessTransport: its own process group, non-JSON stdout lines
 * skipped), initialize, then raw JSON-RPC at the message level:
 *
 *   serial       K requests, each written after the answer to the one before
 *   concurrent   the same K requests written at once (different ids), then every answer awaited
 *
 * for K = 1, 8, 32 and two calls: `tools/list`, and where the server has one, read-only tool calls
 * that work offline. Request i of a batch is variant i mod n of the server's calls, whose answers
 * differ from each other (other files, other topics, other echo texts), so an answer given to the
 * wrong request shows. Per server:
 *   correct     each answer's id is one sent and not answered before, and its result is the one
 *               a serial call of the same variant gives (UUIDs and timestamps masked)
 *   errors      JSON-RPC errors, isError results, answers missing at the per-server time budget
 *   speedup     serial time ÷ concurrent time of the same K calls: above 1 only where the server
 *               works on several at once (calls that only use this process's CPU stay near 1 on
 *               any server)
 *   overtaking  answers that came before the answer to a request sent earlier (a server that
 *               answers one at a time answers in order)
 *   slow call   where a tool allows a call that takes long (a scan, a sleep, a diagram), it is
 *               sent first and 4 quick `tools/list` right after it: how many answers overtake it
 *               tells whether the process takes other calls while one runs
 *   alive       the process still runs and answers `tools/list` at the end
 *   memory      RSS of the process tree (the server and its children) after initialize, and its
 *               peak during the concurrent batches
 *
 * Every server gets a time budget (BENCH_SERVER_BUDGET_S, 180 s): past it, its row says where it
 * stopped and the process group is killed. Each process group is killed at its server's end and
 * checked gone (and all of them again at exit, on a signal too).
 *
 * Needs the seed fleet built (`npx mcp-fleet build -c examples/seed/servers.yaml`, or `npm run
 * seed-fleet`, after `npm run python-tools`); a server without a host install is reported, not
 * measured. Servers of NEEDS_NETWORK (scripts/seed-fleet.ts) are not started: they reach the
 * network at start.
 *
 * Run: npm run bench:server-concurrency  (BENCH_ONLY=id,… for some servers, then the document is
 * not written; figures to stderr, bench/results/server-concurrency.json and the block of
 * docs/hosts.md)
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hostPaths } from '../src/build/build.js';
import { HOSTS_OF_KIND } from '../src/build/host.js';
import type { PackageSpec } from '../src/config/package-spec.js';
import { loadConfigOrThrow } from '../src/config/index.js';
import { toLaunchSpec, type ServerConfig } from '../src/config/model.js';
import {
  groupMembers,
  processTree,
  readPseudoFile,
  residentBytes,
  signalGroup,
} from '../src/platform/processes.js';
import type { JsonRpcMessage } from '../src/protocol/jsonrpc.js';
import { ChildProcessTransport, describeExit } from '../src/runtime/child.js';
import { serverEnvironment } from '../src/runtime/env.js';
import { STDIO_PROTOCOL_VERSION } from '../src/runtime/limits.js';
import { CONCURRENCY_RESULTS_FILE } from '../src/plan/plan.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { NEEDS_NETWORK, SEED_CONFIG } from '../scripts/seed-fleet.js';
import { gitRepo } from '../scripts/support.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KS = [1, 8, 32] as const;
const BUDGET_MS = Number(process.env['BENCH_SERVER_BUDGET_S'] ?? 180) * 1000;
/** One request's longest wait (within the server's budget). */
const REQUEST_MS = 60_000;
/** Serial and concurrent runs of each K (fewer once a K has taken ROUNDS_MS). */
const ROUNDS = 3;
const ROUNDS_MS = 15_000;
/** Quick requests sent right behind the slow call. */
const QUICK_BEHIND_SLOW = 4;
/** RSS sampling period during the concurrent batches. */
const SAMPLE_MS = 25;
const ONLY = process.env['BENCH_ONLY']?.split(',').filter((s) => s !== '');

const line = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

// ---------------------------------------------------------------------------------------------
// What is sent

/** One request: `tools/list`, or a tool call. */
interface Request {
  label: string;
  method: string;
  params?: Record<string, unknown>;
}

const TOOLS_LIST: Request = { label: 'tools/list', method: 'tools/list' };
const call = (tool: string, args: Record<string, unknown> = {}): Request => ({
  label: tool,
  method: 'tools/call',
  params: { name: tool, arguments: args },
});

/** What a server is asked beyond `tools/list`. */
interface Plan {
  /** Read-only offline calls whose answers differ; request i of a batch is variants[i mod n]. */
  variants: Request[];
  /** A call that takes long, sent ahead of quick ones (where a tool allows one offline). */
  slow?: Request;
}

/** The files the calls read: under /tmp, which the seed's filesystem server serves. */
interface Fixtures {
  dir: string;
  files: string[];
  repo: string;
  terraform: string;
  /** 10,000 files in 100 folders: a search through it takes a while. */
  tree: string;
  /** A git repository of HISTORY commits: listing them all takes a while. */
  history: string;
  memory: string;
}

const FILE_NAMES = ['alpha', 'beta', 'gamma', 'delta'];
const HISTORY = 3000;

async function makeFixtures(): Promise<Fixtures> {
  const dir = await mkdtemp('/tmp/mcp-fleet-bench-concurrency-');
  const files = FILE_NAMES.map((n) => path.join(dir, `${n}.txt`));
  for (const [i, f] of files.entries())
    await writeFile(f, `${FILE_NAMES[i] ?? ''}: file ${i + 1} of the concurrency benchmark\n`);
  const repo = path.join(dir, 'repo');
  await gitRepo(repo);
  const terraform = path.join(dir, 'terraform');
  await mkdir(terraform);
  await writeFile(
    path.join(terraform, 'main.tf'),
    'resource "aws_s3_bucket" "data" {\n  bucket = "mcp-fleet-bench-example"\n}\n',
  );
  const tree = path.join(dir, 'tree');
  for (let d = 0; d < 100; d++) {
    const sub = path.join(tree, `d${d}`);
    await mkdir(sub, { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, f) => writeFile(path.join(sub, `f${f}.txt`), `${d}/${f}\n`)),
    );
  }
  const history = path.join(dir, 'history');
  execFileSync('git', ['init', '-q', history]);
  const commits = Array.from(
    { length: HISTORY },
    (_, i) =>
      `commit refs/heads/master\ncommitter t <t@example.com> ${1_700_000_000 + i * 60} +0000\ndata <<EOM\ncommit ${i}\nEOM\nM 644 inline log.txt\ndata <<EOM\n${i}\nEOM\n`,
  );
  execFileSync('git', ['-C', history, 'fast-import', '--quiet'], { input: commits.join('\n') });
  execFileSync('git', ['-C', history, 'checkout', '-q', 'master']);
  const memory = path.join(dir, 'memory.jsonl');
  await writeFile(
    memory,
    [
      ...FILE_NAMES.map((name, i) =>
        JSON.stringify({ type: 'entity', name, entityType: 'letter', observations: [`number ${i + 1}`] }),
      ),
      JSON.stringify({ type: 'relation', from: 'alpha', to: 'beta', relationType: 'precedes' }),
    ].join('\n') + '\n',
  );
  return { dir, files, repo, terraform, tree, history, memory };
}

const template = (resources: number, type = 'AWS::S3::Bucket'): string =>
  [
    'AWSTemplateFormatVersion: "2010-09-09"',
    'Resources:',
    ...Array.from({ length: resources }, (_, i) => `  Bucket${i}:\n    Type: ${type}`),
  ].join('\n') + '\n';

/** Per server, the calls that work here with no network and no AWS account (none: `tools/list` only). */
function plans(fx: Fixtures): Record<string, Plan> {
  const readFiles = { variants: fx.files.map((f) => call('read_text_file', { path: f })) };
  return {
    'core-mcp': { variants: [call('prompt_understanding')] },
    'aws-pricing': {
      variants: [
        call('get_bedrock_patterns'),
        call('analyze_terraform_project', { project_path: fx.terraform }),
      ],
    },
    frontend: {
      variants: ['essential-knowledge', 'troubleshooting'].map((topic) =>
        call('GetReactDocsByTopic', { topic }),
      ),
    },
    'eks-mcp': {
      variants: ['cluster', 'node', 'pod', 'namespace', 'service'].map((t) =>
        call('get_eks_metrics_guidance', { resource_type: t }),
      ),
    },
    'aws-diagram': {
      variants: [
        call('list_icons', { provider_filter: 'aws', service_filter: 'compute' }),
        call('list_icons', { provider_filter: 'aws', service_filter: 'database' }),
        call('get_diagram_examples', { diagram_type: 'sequence' }),
        call('get_diagram_examples', { diagram_type: 'flow' }),
      ],
      slow: call('generate_diagram', {
        code: "with Diagram('Bench', show=False):\n    ELB('lb') >> EC2('web') >> RDS('db')",
        filename: 'bench-slow',
        workspace_dir: fx.dir,
      }),
    },
    terraform: {
      variants: [],
      slow: call('RunCheckovScan', { working_directory: fx.terraform, framework: 'terraform' }),
    },
    cloudwatch: {
      variants: [
        ['AWS/EC2', 'CPUUtilization'],
        ['AWS/Lambda', 'Duration'],
        ['AWS/S3', 'BucketSizeBytes'],
        ['AWS/RDS', 'FreeStorageSpace'],
      ].map(([namespace, metric]) => call('get_metric_metadata', { namespace, metric_name: metric })),
    },
    'cloudwatch-applicationsignals': {
      variants: [
        ['lambda', 'python'],
        ['ec2', 'java'],
        ['ecs', 'nodejs'],
        ['eks', 'dotnet'],
      ].map(([platform, language]) =>
        call('get_enablement_guide', {
          service_platform: platform,
          service_language: language,
          iac_directory: fx.terraform,
          app_directory: fx.dir,
        }),
      ),
    },
    ccapi: { variants: [call('check_environment_variables')] },
    git: {
      variants: [
        call('git_status', { repo_path: fx.repo }),
        call('git_log', { repo_path: fx.repo, max_count: 5 }),
        call('git_show', { repo_path: fx.repo, revision: 'HEAD' }),
        call('git_branch', { repo_path: fx.repo, branch_type: 'local' }),
      ],
      slow: call('git_log', { repo_path: fx.history, max_count: HISTORY }),
    },
    filesystem: {
      ...readFiles,
      slow: call('search_files', { path: fx.tree, pattern: 'no-such-file-*' }),
    },
    'aws-iac': {
      variants: [
        call('validate_cloudformation_template', { template_content: template(1) }),
        call('validate_cloudformation_template', { template_content: template(2, 'AWS::S3::NoSuchThing') }),
        call('cdk_best_practices'),
        call('get_cloudformation_pre_deploy_validation_instructions'),
      ],
      slow: call('validate_cloudformation_template', { template_content: template(400) }),
    },
    'ref:everything': {
      variants: Array.from({ length: 32 }, (_, i) => call('echo', { message: `message ${i}` })),
      slow: call('trigger-long-running-operation', { duration: 1.5, steps: 1 }),
    },
    'ref:filesystem': {
      ...readFiles,
      slow: call('search_files', { path: fx.tree, pattern: 'no-such-file-*' }),
    },
    'ref:memory': {
      variants: [
        call('read_graph'),
        ...FILE_NAMES.map((name) => call('open_nodes', { names: [name] })),
        call('search_nodes', { query: 'number' }),
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Which servers, and how each is started

interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  shell: boolean;
}

interface Target {
  id: string;
  origin: 'seed' | 'reference';
  /** Runtime and MCP SDK, as installed. */
  sdk: string;
  /** A seed server's package kind (which hosts can run it: HOSTS_OF_KIND). */
  kind?: PackageSpec['kind'];
  launch?: Launch;
  /** The server's `memory` (MB): its process tree must stay within it. */
  memoryMb?: number;
  /** Why it is not started. */
  notStarted?: string;
}

/** What the seed's servers inherit: as `npm run seed-fleet` runs the fleet (no real secret). */
function parentEnv(region: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_REGION: process.env['AWS_REGION'] ?? region,
    AWS_DEFAULT_REGION: process.env['AWS_DEFAULT_REGION'] ?? process.env['AWS_REGION'] ?? region,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
}

/**
 * A seed server as `mcp-fleet dev` starts it from the build's host install: the config's launch
 * spec, the install's folders in front of PATH (as the runtime does with launch.json's `path`),
 * the runtime's server environment (serverEnvironment), secrets as placeholders.
 */
function seedLaunch(server: ServerConfig, dirs: readonly string[], parent: NodeJS.ProcessEnv): Launch {
  const spec = toLaunchSpec(server);
  const configDir = path.dirname(SEED_CONFIG);
  const PATH = [...dirs, path.join(configDir, 'node_modules', '.bin'), parent['PATH'] ?? ''].join(':');
  const secrets = Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, 'offline-placeholder']));
  return {
    command: spec.command,
    args: spec.args,
    env: serverEnvironment(spec.id, { ...spec.env, PATH, ...secrets }, parent),
    cwd: spec.cwd ?? configDir,
    shell: spec.shell,
  };
}

async function packageVersion(file: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The runtime and MCP SDK of an install: a venv's dist-info, node_modules' SDK, or a Go binary. */
async function sdkOf(dirs: readonly string[]): Promise<string> {
  for (const dir of dirs) {
    const lib = path.join(dir, '..', 'lib');
    if (existsSync(lib)) {
      for (const py of await readdir(lib)) {
        const site = await readdir(path.join(lib, py, 'site-packages')).catch(() => [] as string[]);
        const sdks = site
          .map((f) => /^(mcp|fastmcp)-([\d.]+)\.dist-info$/.exec(f))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => `${m[1] === 'mcp' ? 'mcp' : 'FastMCP'} ${m[2] ?? ''}`);
        if (sdks.length > 0) return `Python, ${sdks.sort().reverse().join(' + ')}`;
      }
    }
    const sdk = await packageVersion(
      path.join(dir, '..', 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'),
    );
    if (sdk !== undefined) return `Node.js, TS SDK ${sdk}`;
  }
  for (const dir of dirs) {
    for (const exe of await readdir(dir).catch(() => [] as string[])) {
      // A Go binary names the modules it was built from.
      const info = await run('go', ['version', '-m', path.join(dir, exe)]).catch(() => undefined);
      const sdk = /\bdep\s+(\S*(?:modelcontextprotocol\/go-sdk|mcp-go))\s+(\S+)/.exec(info?.stdout ?? '');
      if (sdk) return `Go, ${sdk[1] ?? ''} ${sdk[2] ?? ''}`;
    }
  }
  return '–';
}

async function seedTargets(): Promise<Target[]> {
  const config = await loadConfigOrThrow(SEED_CONFIG);
  const installs = await hostPaths(config);
  const parent = parentEnv(config.region ?? 'us-east-1');
  const targets: Target[] = [];
  for (const server of config.servers) {
    const dirs = installs[server.id];
    const target: Target = {
      id: server.id,
      origin: 'seed',
      sdk: dirs ? await sdkOf(dirs) : '–',
      memoryMb: server.memory,
    };
    if (server.package !== undefined) target.kind = server.package.kind;
    const network = NEEDS_NETWORK[server.id];
    if (network !== undefined) target.notStarted = `it ${network.why}`;
    else if (dirs === undefined)
      target.notStarted = 'not built here (`npx mcp-fleet build -c examples/seed/servers.yaml`)';
    else target.launch = seedLaunch(server, dirs, parent);
    targets.push(target);
  }
  return targets;
}

/** The npm reference servers of the repository's tests, from its node_modules. */
async function referenceTargets(fx: Fixtures): Promise<Target[]> {
  const bin = path.join(ROOT, 'node_modules', '.bin');
  const sdk = `Node.js, TS SDK ${(await packageVersion(path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'))) ?? '?'}`;
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...serverEnvironment('bench', {}, process.env),
    ...extra,
  });
  const ref = (
    id: string,
    pkg: string,
    command: string,
    args: string[],
    extra?: Record<string, string>,
  ): Target => ({
    id: `ref:${id}`,
    origin: 'reference',
    sdk: `${sdk} (${pkg})`,
    launch: { command: path.join(bin, command), args, env: env(extra), cwd: fx.dir, shell: false },
  });
  const version = async (name: string): Promise<string> =>
    `${name}@${(await packageVersion(path.join(ROOT, 'node_modules', '@modelcontextprotocol', name, 'package.json'))) ?? '?'}`;
  return [
    ref('everything', await version('server-everything'), 'mcp-server-everything', ['stdio']),
    ref('filesystem', await version('server-filesystem'), 'mcp-server-filesystem', [fx.dir]),
    ref('memory', await version('server-memory'), 'mcp-server-memory', [], { MEMORY_FILE_PATH: fx.memory }),
  ];
}

// ---------------------------------------------------------------------------------------------
// One server process, spoken to in raw JSON-RPC

/** Process groups still running: killed on the way out, whatever ends the run. */
const LIVE = new Set<number>();
const killLive = (): void => {
  for (const pgid of LIVE) signalGroup(pgid, 'SIGKILL');
};
process.on('exit', killLive);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killLive();
    process.exit(130);
  });
}

/** An answer as it came. */
interface Answer {
  id: number;
  /** Its place in the order of this process's answers (Infinity: none came). */
  seq: number;
  ms: number;
  result?: Record<string, unknown>;
  /** A JSON-RPC error, or why no answer came. */
  error?: string;
  missing?: boolean;
}

class BudgetSpent extends Error {}

class StdioServer {
  private readonly transport: ChildProcessTransport;
  private readonly waiting = new Map<
    number,
    { settle: (a: Omit<Answer, 'id' | 'ms'>) => void; sent: number; timer: NodeJS.Timeout }
  >();
  private nextId = 1;
  private arrivals = 0;
  private sampler: NodeJS.Timeout | undefined;
  /** Answers whose id was never sent, or answered before. */
  strays = 0;
  /** Every process of its tree seen while sampling, by pid: its start time (each checked gone at the end). */
  readonly seen = new Map<number, string>();
  peakRss = 0;
  /** The peak RSS since sampling last started. */
  samplePeak = 0;
  budgetSpent = false;

  constructor(
    launch: Launch,
    private readonly deadline: number,
  ) {
    this.transport = new ChildProcessTransport(launch);
    this.transport.onmessage = (m) => {
      this.receive(m);
    };
    this.transport.onclose = () => {
      const exit = this.transport.exit;
      const why = `the process ended: it ${exit ? describeExit(exit) : 'exited'}; stderr: ${this.stderrTail()}`;
      for (const [id, w] of this.waiting) this.settle(id, w, { seq: Infinity, error: why, missing: true });
    };
  }

  async start(): Promise<void> {
    await this.transport.start();
    const exit = this.transport.exit;
    if (exit?.spawnError) throw new Error(`it ${describeExit(exit)}`);
    if (this.transport.pid !== undefined) LIVE.add(this.transport.pid);
  }

  get pid(): number | undefined {
    return this.transport.pid;
  }

  get running(): boolean {
    return this.transport.exit === undefined;
  }

  stderrTail(): string {
    return this.transport.stderrTail().replace(/\s+/g, ' ').trim().slice(-300);
  }

  /** Sends one request now; its answer, or an error answer when none comes in time. */
  request(r: Request, limitMs = REQUEST_MS): Promise<Answer> {
    const left = this.deadline - performance.now();
    const id = this.nextId++;
    if (left <= 0) {
      this.budgetSpent = true;
      return Promise.resolve({ id, seq: Infinity, ms: 0, error: 'time budget spent', missing: true });
    }
    const wait = Math.min(limitMs, left);
    const sent = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (wait === left) this.budgetSpent = true;
        const w = this.waiting.get(id);
        if (w)
          this.settle(id, w, { seq: Infinity, error: `no answer in ${wait.toFixed(0)} ms`, missing: true });
      }, wait);
      this.waiting.set(id, {
        settle: (a) => {
          resolve({ id, ms: performance.now() - sent, ...a });
        },
        sent,
        timer,
      });
      const message = { jsonrpc: '2.0', id, method: r.method, ...(r.params ? { params: r.params } : {}) };
      this.transport.send(message as JsonRpcMessage).catch((err: unknown) => {
        const w = this.waiting.get(id);
        if (w) this.settle(id, w, { seq: Infinity, error: (err as Error).message, missing: true });
      });
    });
  }

  /** Why the start failed: how the process ended (given a moment to), or the answer, with its stderr. */
  async startFailure(init: Answer): Promise<string> {
    await Promise.race([this.transport.done, new Promise((r) => setTimeout(r, 1000))]);
    const exit = this.transport.exit;
    const stderr = this.stderrTail();
    return `${exit ? `it ${describeExit(exit)} before it answered initialize` : `initialize: ${excerpt(init)}`}${stderr === '' ? '' : `; its stderr ends: ${stderr}`}`;
  }

  notify(method: string): void {
    void this.transport.send({ jsonrpc: '2.0', method }).catch(() => undefined);
  }

  /** Throws once the server's time budget is spent (the row then says where). */
  checkBudget(step: string): void {
    if (this.budgetSpent) throw new BudgetSpent(`time budget (${BUDGET_MS / 1000} s) spent during ${step}`);
  }

  /** RSS of the process tree now (bytes). */
  rss(): number {
    const pid = this.transport.pid;
    if (pid === undefined || !this.running) return 0;
    const tree = processTree(pid);
    for (const p of tree) {
      const started = startTime(p);
      if (started !== undefined && !this.seen.has(p)) this.seen.set(p, started);
    }
    const bytes = residentBytes(tree);
    this.peakRss = Math.max(this.peakRss, bytes);
    this.samplePeak = Math.max(this.samplePeak, bytes);
    return bytes;
  }

  sampling(on: boolean): void {
    clearInterval(this.sampler);
    if (on) {
      this.samplePeak = 0;
      this.rss();
    }
    this.sampler = on
      ? setInterval(() => {
          this.rss();
        }, SAMPLE_MS)
      : undefined;
  }

  /** Kills the process group and checks every process seen is gone; how many were left (then killed). */
  async stop(): Promise<number> {
    this.sampling(false);
    for (const [id, w] of this.waiting)
      this.settle(id, w, { seq: Infinity, error: 'stopped', missing: true });
    const pid = this.transport.pid;
    await this.transport.kill('benchmark done');
    if (pid === undefined) return 0;
    LIVE.delete(pid);
    const same = [...this.seen].filter(([p, t]) => startTime(p) === t).map(([p]) => p);
    const left = [...new Set([...groupMembers(pid), ...same])];
    for (const p of left) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    return left.length;
  }

  private settle(
    id: number,
    w: { settle: (a: Omit<Answer, 'id' | 'ms'>) => void; timer: NodeJS.Timeout },
    a: Omit<Answer, 'id' | 'ms'>,
  ): void {
    clearTimeout(w.timer);
    this.waiting.delete(id);
    w.settle(a);
  }

  private receive(m: JsonRpcMessage): void {
    if ('method' in m) {
      // A request of the server's own (roots, sampling): this client offers none.
      if ('id' in m)
        void this.transport
          .send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'not offered by this client' } })
          .catch(() => undefined);
      return;
    }
    const w = typeof m.id === 'number' ? this.waiting.get(m.id) : undefined;
    if (w === undefined || typeof m.id !== 'number') {
      this.strays += 1;
      return;
    }
    const seq = this.arrivals++;
    if ('error' in m) this.settle(m.id, w, { seq, error: `${m.error.code}: ${m.error.message}` });
    else this.settle(m.id, w, { seq, result: m.result });
  }
}

/**
 * When a running process started (clock ticks since boot, /proc/<pid>/stat field 22): a pid seen
 * earlier is the same process only while this has not changed. Undefined when gone or a zombie.
 */
function startTime(pid: number): string | undefined {
  const stat = readPseudoFile(`/proc/${pid}/stat`);
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields === undefined || fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}

// ---------------------------------------------------------------------------------------------
// The measurements

/** How the answers of one batch compare with the serial answers of the same requests. */
interface Tally {
  correct: number;
  /** JSON-RPC errors and isError results (where a serial call of the same request succeeds). */
  errors: number;
  /** No answer in time, or the process ended first. */
  missing: number;
  /** The answer another request of the batch should have had. */
  mixed: number;
  /** An answer matching no serial answer. */
  wrong: number;
  /** The first problem, as an example. */
  example?: string;
}

interface Batch {
  k: number;
  /** Serial and concurrent runs of the K calls (the tallies count every round's answers). */
  rounds: number;
  /** Medians over the rounds. */
  serialMs: number;
  concurrentMs: number;
  serial: Tally;
  concurrent: Tally;
  /** Concurrent answers that came before the answer to a request sent earlier. */
  overtaking: number;
  /** The process tree's peak RSS while the concurrent calls ran (bytes). */
  peakRss: number;
}

interface CallFigures {
  label: string;
  variants: number;
  /** Variants whose two serial answers differed (after masking): checked for success only. */
  unstable: number;
  /** Why the calls were not measured (the serial call fails here). */
  unusable?: string;
  batches: Batch[];
}

interface SlowFigures {
  label: string;
  /** The slow call alone. */
  slowMs: number;
  /** A quick `tools/list` alone (median of 3). */
  quickMs: number;
  /** Quick answers that came before the slow call's answer, of QUICK_BEHIND_SLOW. */
  overtook: number;
  /** The slowest quick answer while the slow call ran. */
  quickBehindMs: number;
  unusable?: string;
}

type VerdictKind = 'concurrent' | 'limited' | 'serial' | 'not started' | 'not measured';

interface Row {
  id: string;
  origin: Target['origin'];
  sdk: string;
  kind?: PackageSpec['kind'];
  memoryMb?: number;
  notStarted?: string;
  /** Spawn to the answer to initialize. */
  startMs?: number;
  /** Where and why the measurement stopped early. */
  failure?: string;
  calls: CallFigures[];
  slow?: SlowFigures;
  alive?: boolean;
  rssIdle?: number;
  rssPeak?: number;
  /** Processes still running after the group was killed (then killed one by one). */
  leftBehind?: number;
  strays?: number;
  verdict: { kind: VerdictKind; text: string };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIME = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g;

const failed = (a: Answer): boolean => a.error !== undefined || a.result?.['isError'] === true;
const masked = (a: Answer): string =>
  (a.error !== undefined ? `error ${a.error}` : JSON.stringify(a.result ?? null))
    .replace(UUID, '<uuid>')
    .replace(TIME, '<time>');
const excerpt = (a: Answer): string =>
  (a.error ?? JSON.stringify(a.result?.['content'] ?? a.result ?? '')).replace(/\s+/g, ' ').slice(0, 160);
const emptyTally = (): Tally => ({ correct: 0, errors: 0, missing: 0, mixed: 0, wrong: 0 });
const bad = (t: Tally): number => t.errors + t.missing + t.mixed + t.wrong;
const spread = (n: number, f: (i: number) => Promise<Answer>): Promise<Answer[]> =>
  Promise.all(Array.from({ length: n }, (_, i) => f(i)));

/** The serial answer of each variant (twice: answers that change between calls are checked for success only). */
async function references(
  server: StdioServer,
  variants: Request[],
): Promise<{ refs: string[]; unstable: Set<number> } | string> {
  const refs: string[] = [];
  for (const v of variants) {
    const a = await server.request(v);
    server.checkBudget(`the first ${v.label}`);
    if (failed(a)) return `${v.label} fails here: ${excerpt(a)}`;
    refs.push(masked(a));
  }
  const unstable = new Set<number>();
  for (const [i, v] of variants.entries()) if (masked(await server.request(v)) !== refs[i]) unstable.add(i);
  return { refs, unstable };
}

/** K serial calls, then the same K at once, for each K. */
async function measureCall(server: StdioServer, figures: CallFigures, variants: Request[]): Promise<void> {
  const ref = await references(server, variants);
  if (typeof ref === 'string') {
    figures.unusable = ref;
    return;
  }
  figures.unstable = ref.unstable.size;
  const variant = (i: number): Request => variants[i % variants.length] ?? TOOLS_LIST;
  const judge = (t: Tally, a: Answer, i: number): void => {
    const v = i % variants.length;
    const text = masked(a);
    const problem = (kind: 'errors' | 'missing' | 'mixed' | 'wrong', what: string): void => {
      t[kind] += 1;
      t.example ??= `${kind}: ${what}`;
    };
    if (a.missing === true) problem('missing', a.error ?? '');
    else if (failed(a)) problem('errors', excerpt(a));
    else if (text === ref.refs[v] || ref.unstable.has(v)) t.correct += 1;
    else if (ref.refs.includes(text))
      problem(
        'mixed',
        `request ${i} (${variant(i).label}) got the answer of variant ${ref.refs.indexOf(text)}`,
      );
    else problem('wrong', `request ${i} (${variant(i).label}): ${excerpt(a)}`);
  };
  for (const k of KS) {
    const batch: Batch = {
      k,
      rounds: 0,
      serialMs: NaN,
      concurrentMs: NaN,
      serial: emptyTally(),
      concurrent: emptyTally(),
      overtaking: 0,
      peakRss: 0,
    };
    const times = { serial: [] as number[], concurrent: [] as number[] };
    const until = performance.now() + ROUNDS_MS;
    try {
      while (batch.rounds < ROUNDS && (batch.rounds === 0 || performance.now() < until)) {
        batch.rounds += 1;
        let t0 = performance.now();
        for (let i = 0; i < k; i++) judge(batch.serial, await server.request(variant(i)), i);
        times.serial.push(performance.now() - t0);
        server.checkBudget(`${k} serial ${figures.label}`);
        server.sampling(true);
        t0 = performance.now();
        const answers = await spread(k, (i) => server.request(variant(i)));
        times.concurrent.push(performance.now() - t0);
        server.sampling(false);
        batch.peakRss = Math.max(batch.peakRss, server.samplePeak);
        let latest = -1;
        for (const [i, a] of answers.entries()) {
          judge(batch.concurrent, a, i);
          if (a.seq < latest) batch.overtaking += 1;
          if (Number.isFinite(a.seq)) latest = Math.max(latest, a.seq);
        }
        server.checkBudget(`${k} concurrent ${figures.label}`);
      }
    } finally {
      // A batch cut short by the budget is left out: its missing answers say nothing of concurrency
      // (the row says where the budget ran out). An answer that does not come in REQUEST_MS counts.
      if (times.concurrent.length > 0 && !server.budgetSpent) {
        batch.serialMs = median(times.serial);
        batch.concurrentMs = median(times.concurrent);
        figures.batches.push(batch);
      }
    }
  }
}

/** A call's figures, in the row from the start (a run cut short keeps what it measured). */
function newCall(row: Row, label: string, variants: number): CallFigures {
  const figures: CallFigures = { label, variants, unstable: 0, batches: [] };
  row.calls.push(figures);
  return figures;
}

/** The slow call alone, then again with quick `tools/list` calls right behind it. */
async function slowProbe(server: StdioServer, slow: Request): Promise<SlowFigures> {
  const figures: SlowFigures = { label: slow.label, slowMs: 0, quickMs: 0, overtook: 0, quickBehindMs: 0 };
  const solo = await server.request(slow);
  server.checkBudget(slow.label);
  if (failed(solo)) return { ...figures, unusable: `${slow.label} fails here: ${excerpt(solo)}` };
  const quick: number[] = [];
  for (let i = 0; i < 3; i++) quick.push((await server.request(TOOLS_LIST)).ms);
  const behind = server.request(slow);
  const quickOnes = await spread(QUICK_BEHIND_SLOW, () => server.request(TOOLS_LIST));
  const slowAnswer = await behind;
  server.checkBudget(`${slow.label} with quick calls behind it`);
  return {
    ...figures,
    slowMs: solo.ms,
    quickMs: median(quick),
    overtook: quickOnes.filter((a) => a.seq < slowAnswer.seq).length,
    quickBehindMs: Math.max(...quickOnes.map((a) => a.ms)),
  };
}

/** Whether the slow call is slow enough to tell: 5 quick calls' time, and 100 ms at least. */
const telling = (s: SlowFigures | undefined): s is SlowFigures =>
  s !== undefined && s.unusable === undefined && s.slowMs >= Math.max(100, 5 * s.quickMs);

async function measure(target: Target, plan: Plan | undefined): Promise<Row> {
  const row: Row = {
    id: target.id,
    origin: target.origin,
    sdk: target.sdk,
    ...(target.kind !== undefined ? { kind: target.kind } : {}),
    ...(target.memoryMb !== undefined ? { memoryMb: target.memoryMb } : {}),
    calls: [],
    verdict: { kind: 'not measured', text: '' },
  };
  if (target.launch === undefined) {
    row.notStarted = target.notStarted ?? 'no launch';
    return row;
  }
  const server = new StdioServer(target.launch, performance.now() + BUDGET_MS);
  try {
    const t0 = performance.now();
    try {
      await server.start();
    } catch (err) {
      row.notStarted = (err as Error).message;
      return row;
    }
    const init = await server.request({
      label: 'initialize',
      method: 'initialize',
      params: {
        protocolVersion: STDIO_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'mcp-fleet-bench', version: '0.1.0' },
      },
    });
    if (failed(init)) {
      row.notStarted = await server.startFailure(init);
      return row;
    }
    row.startMs = performance.now() - t0;
    server.notify('notifications/initialized');
    row.rssIdle = server.rss();
    await measureCall(server, newCall(row, 'tools/list', 1), [TOOLS_LIST]);
    if (plan !== undefined && plan.variants.length > 0) {
      const tools = [...new Set(plan.variants.map((v) => v.label))].join(', ');
      await measureCall(server, newCall(row, tools, plan.variants.length), plan.variants);
    }
    if (plan?.slow !== undefined) row.slow = await slowProbe(server, plan.slow);
    const last = await server.request(TOOLS_LIST);
    server.checkBudget('the last tools/list');
    row.alive = server.running && !failed(last);
  } catch (err) {
    row.failure = (err as Error).message;
    row.alive = server.running;
  } finally {
    server.rss();
    row.rssPeak = server.peakRss;
    row.strays = server.strays;
    row.leftBehind = await server.stop();
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// Verdicts, the recommended default, the table

const describeTally = (t: Tally, k: number): string =>
  (['mixed', 'wrong', 'errors', 'missing'] as const)
    .filter((kind) => t[kind] > 0)
    .map((kind) => `${t[kind]} of ${k} ${kind === 'errors' ? 'failed' : kind}`)
    .join(', ');

/** What went wrong in the concurrent batches of K calls that their serial runs do not show. */
/**
 * The share of its `memory` a server's RSS may reach at a K: a margin, since the peak of the same
 * batch varies between runs (aws-iac at K = 32: 951 MB in one run, 1,161 MB in another).
 */
const MEMORY_MARGIN = 0.8;

function faultsAt(row: Row, k: number): string[] {
  const faults: string[] = [];
  for (const c of row.calls)
    for (const b of c.batches.filter((x) => x.k === k)) {
      if (bad(b.concurrent) > bad(b.serial))
        faults.push(
          `${c.label} at K=${k}: ${describeTally(b.concurrent, k * b.rounds)} (${b.concurrent.example ?? ''})`,
        );
      if (row.memoryMb !== undefined && b.peakRss > MEMORY_MARGIN * row.memoryMb * 2 ** 20)
        faults.push(
          `RSS ${mb(b.peakRss)} MB at K=${k}, over ${MEMORY_MARGIN * 100}% of its memory of ${row.memoryMb} MB`,
        );
    }
  return faults;
}

/** Faults that no K can be blamed for. */
function processFaults(row: Row): string[] {
  return [
    ...((row.strays ?? 0) > 0 ? [`${row.strays ?? 0} answers with an id not sent or answered twice`] : []),
    ...(row.alive === false ? ['the process did not survive'] : []),
  ];
}

/** The largest K whose concurrent batches were all right and within memory (0: none). */
function largestGoodK(row: Row): number {
  if (processFaults(row).length > 0) return 0;
  let good = 0;
  for (const k of KS) {
    if (!row.calls.some((c) => c.batches.some((b) => b.k === k)) || faultsAt(row, k).length > 0) break;
    good = k;
  }
  return good;
}

function verdict(row: Row): Row['verdict'] {
  if (row.notStarted !== undefined)
    return { kind: 'not started', text: `could not start offline: ${row.notStarted}` };
  const faults = [...KS.flatMap((k) => faultsAt(row, k)), ...processFaults(row)];
  const good = largestGoodK(row);
  if (faults.length > 0)
    return good > 1
      ? {
          kind: 'limited',
          text: `takes ${good} calls at once: set concurrency: ${good} (${faults.join('; ')})`,
        }
      : { kind: 'serial', text: `serial: set concurrency: 1 (${faults.join('; ')})` };
  if (row.failure !== undefined)
    return { kind: 'not measured', text: `not measured to the end: ${row.failure}` };
  const s = row.slow;
  if (telling(s) && s.overtook === 0)
    return {
      kind: 'serial',
      text: `serial: set concurrency: 1 (answers right, but one at a time: ${QUICK_BEHIND_SLOW} quick calls waited behind ${s.label}, up to ${s.quickBehindMs.toFixed(0)} ms instead of ${s.quickMs.toFixed(0)} ms)`,
    };
  const overtaking = row.calls.reduce((n, c) => n + c.batches.reduce((m, b) => m + b.overtaking, 0), 0);
  const what =
    row.calls.length > 1
      ? 'every answer right'
      : 'every answer right (tools/list only: no tool works offline)';
  const how = telling(s)
    ? `quick calls overtake ${s.label}: it works on several at once`
    : overtaking > 0
      ? `${overtaking} answers overtook earlier requests: it works on several at once`
      : 'answers came in order; no slow call offline to show whether it works on several at once';
  return { kind: 'concurrent', text: `takes concurrent calls (${what}; ${how})` };
}

interface Recommendation {
  /** The recommended default of `concurrency` on web-function and managed-instances. */
  value: string;
  /** … on agentcore-runtime (one process per session), which runs every package kind. */
  session: string;
  /** The rule, and how the figures meet it. */
  text: string;
}

/** The hosts whose environment runs a pool of server processes, each taking `concurrency` calls. */
const POOL_HOSTS = ['web-function', 'managed-instances'] as const;

/** Whether a seed server's package can run on the pool hosts (npm and Go: a Node.js zip). */
const onPoolHosts = (r: Row): boolean =>
  r.kind !== undefined && POOL_HOSTS.every((h) => HOSTS_OF_KIND[r.kind as PackageSpec['kind']].includes(h));

/**
 * The rule: a wrong answer is worse than a slow one, and no process should get more calls at once
 * than were measured. A default is the largest K at which every seed server measured that the
 * hosts can run answered every concurrent call as a serial call of the same request does, stayed
 * alive, and kept its process tree within its `memory` (1 when one fails that at the first K above
 * 1). So two defaults: web-function and managed-instances run npm and Go servers only, and
 * agentcore-runtime runs every kind. A server that answers right but one at a time is slow, not
 * wrong: it sets `concurrency: 1` in its own entry and does not lower the default.
 */
function recommend(rows: Row[]): Recommendation {
  const measured = rows.filter(
    (r) => r.origin === 'seed' && ['concurrent', 'limited', 'serial'].includes(r.verdict.kind),
  );
  const top = KS[KS.length - 1] ?? 1;
  const largest = (of: Row[]): string =>
    of.length === 0 ? 'not measured' : String(Math.max(1, Math.min(top, ...of.map(largestGoodK))));
  const pool = measured.filter(onPoolHosts);
  const value = largest(pool);
  const session = largest(measured);
  const failing = (of: Row[]): string[] =>
    of.filter((r) => largestGoodK(r) < top).map((r) => `${r.id} (up to K = ${largestGoodK(r)})`);
  const oneAtATime = measured
    .filter((r) => r.verdict.kind === 'serial' && largestGoodK(r) === top)
    .map((r) => r.id);
  const unmeasured = rows
    .filter((r) => r.origin === 'seed' && r.verdict.kind === 'not measured')
    .map((r) => r.id);
  const met = (of: Row[], v: string): string => {
    const f = failing(of);
    return f.length === 0 ? `all met it at every K, so ${v}` : `not all met it: ${f.join(', ')}`;
  };
  const text = [
    `**Recommended default for \`concurrency\`: ${value} on ${POOL_HOSTS.join(' and ')}, ${session} on agentcore-runtime.**`,
    'The rule: a wrong answer is worse than a slow one, and no process should get more calls at once than were measured.',
    `A default is the largest K (of ${KS.join(', ')}) at which every seed server measured that the hosts can run answered every concurrent call as a serial call of the same request does, stayed alive, and kept its process tree's RSS within ${MEMORY_MARGIN * 100}% of its \`memory\` (a margin: the peak of the same batch varies between runs); 1 when one fails that at the first K above 1.`,
    `${POOL_HOSTS.join(' and ')} run npm and Go servers only (a Node.js zip), agentcore-runtime every kind: hence two defaults.`,
    'A server that answers right but one at a time is slow, not wrong: its own entry sets `concurrency: 1`, and it does not lower the default.',
    `Here: ${measured.length} seed servers measured; the ${pool.length} npm and Go ones (${pool.map((r) => r.id).join(', ') || 'none'}): ${met(pool, value)}; all ${measured.length}: ${met(measured, session)}; ${oneAtATime.length === 0 ? 'none was seen answering one at a time' : `answering one at a time (quick calls wait behind a slow one), to set \`concurrency: 1\`: ${oneAtATime.join(', ')}`}${unmeasured.length === 0 ? '' : `; not measured to the end (left out): ${unmeasured.join(', ')}`}.`,
  ].join(' ');
  return { value, session, text };
}

const mb = (b: number | undefined): string => (b === undefined || b === 0 ? '–' : (b / 2 ** 20).toFixed(0));
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** Per K, right concurrent answers of all (✓ when all), then the same for the next call. */
function rightCell(row: Row): string {
  return row.calls
    .map((c) =>
      c.unusable !== undefined
        ? '–'
        : c.batches
            .map((b) => (bad(b.concurrent) === 0 ? '✓' : `${b.concurrent.correct}/${b.k * b.rounds}`))
            .join(' '),
    )
    .join('; ');
}

function speedupCell(row: Row): string {
  return row.calls
    .map((c) =>
      c.batches
        .filter((b) => b.k > 1)
        .map((b) => `${(b.serialMs / b.concurrentMs).toFixed(1)}×`)
        .join(' '),
    )
    .filter((s) => s !== '')
    .join('; ');
}

function slowCell(row: Row): string {
  const s = row.slow;
  if (s === undefined) return '–';
  if (s.unusable !== undefined) return `${s.label}: fails here`;
  return `${s.label} (${s.slowMs.toFixed(0)} ms): ${s.overtook} of ${QUICK_BEHIND_SLOW}${telling(s) ? '' : ' (too quick to tell)'}`;
}

const SHORT: Record<VerdictKind, string> = {
  concurrent: 'takes concurrent calls',
  limited: 'takes some calls at once',
  serial: 'serial: set concurrency: 1',
  'not started': 'could not start offline',
  'not measured': 'not measured',
};

const short = (r: Row): string =>
  r.verdict.kind === 'limited' ? `takes ${largestGoodK(r)} calls at once` : SHORT[r.verdict.kind];

/** Problems in the serial runs / in the concurrent runs (errors, missing, mixed and wrong answers). */
function errorsCell(row: Row): string {
  const sum = (f: (b: Batch) => number): number =>
    row.calls.reduce((n, c) => n + c.batches.reduce((m, b) => m + f(b), 0), 0);
  return row.calls.length === 0 ? '–' : `${sum((b) => bad(b.serial))} / ${sum((b) => bad(b.concurrent))}`;
}

function memoryCell(row: Row): string {
  if (row.rssIdle === undefined) return '–';
  const top = KS[KS.length - 1];
  const peak = Math.max(
    0,
    ...row.calls.flatMap((c) => c.batches.filter((b) => b.k === top).map((b) => b.peakRss)),
  );
  return `${mb(row.rssIdle)} → ${mb(peak)}${row.memoryMb !== undefined ? ` (${row.memoryMb})` : ''}`;
}

function table(rows: Row[]): string[] {
  const lines = [
    '| server | runtime, MCP SDK | tool calls (variants) | right at K = 1 / 8 / 32: tools/list; tool calls | problems serial / concurrent | speedup at K = 8 / 32 | slow call: quick calls overtaking it | alive | RSS (MB): after start → peak at K = 32 (memory) | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const tools = r.calls
      .slice(1)
      .map((c) => (c.unusable !== undefined ? `${c.label}: fails here` : `${c.label} (${c.variants})`))
      .join('');
    const none = r.notStarted === undefined ? 'none offline' : '–';
    lines.push(
      `| ${r.id} | ${r.sdk} | ${cell(tools === '' ? none : tools)} | ${rightCell(r) || '–'} | ${errorsCell(r)} | ${speedupCell(r) || '–'} | ${cell(slowCell(r))} | ${r.alive === undefined ? '–' : r.alive ? 'yes' : 'NO'} | ${memoryCell(r)} | ${short(r)} |`,
    );
  }
  return lines;
}

function markdown(rows: Row[], rec: Recommendation): string {
  const seed = rows.filter((r) => r.origin === 'seed');
  const started = seed.filter((r) => r.notStarted === undefined).length;
  return [
    `${seed.length} seed servers (${started} started offline here, from the build's host installs) and ${rows.length - seed.length} npm reference servers, one process each, in raw JSON-RPC on stdio. After \`initialize\`: K requests one after another (serial), then the same K written at once (concurrent), ${ROUNDS} rounds of each for K = ${KS.join(', ')}, of \`tools/list\` and of the read-only tool calls listed, request i being variant i mod n of them (their answers differ, so an answer given to the wrong request shows). Then, where a tool allows a slow call offline, that call with ${QUICK_BEHIND_SLOW} quick \`tools/list\` written right behind it.`,
    '',
    ...table(rows),
    '',
    `*right*: concurrent answers whose id was one sent (once) and whose result, UUIDs and timestamps masked, is what a serial call of the same request answers (✓: all of them); *problems*: errors, missing, mixed-up and wrong answers in all serial / all concurrent rounds; *speedup*: the serial time ÷ the concurrent time of the same K calls, medians of the rounds (a call that only uses the process's CPU stays near 1× on any server; well above 1× shows it works on several at once); *slow call*: how many of the ${QUICK_BEHIND_SLOW} quick calls answered before it (0: the process answers one at a time); *alive*: it still ran and answered \`tools/list\` at the end; *RSS*: the process tree's resident memory after \`initialize\`, and its peak while ${KS[KS.length - 1] ?? ''} calls ran at once (in brackets the server's \`memory\`, MB).`,
    '',
    rec.text,
    '',
    ...rows.map((r) => `- **${r.id}**: ${r.verdict.text}`),
  ].join('\n');
}

function printRow(r: Row): void {
  const parts = [`${r.id.padEnd(30)} ${short(r).padEnd(26)}`];
  if (r.startMs !== undefined) parts.push(`start ${(r.startMs / 1000).toFixed(1)} s`);
  if (r.calls.length > 0) parts.push(`right ${rightCell(r)}`, `speedup ${speedupCell(r)}`);
  if (r.slow !== undefined) parts.push(`slow ${slowCell(r)}`);
  if (r.rssIdle !== undefined) parts.push(`RSS ${memoryCell(r)} MB`);
  if ((r.leftBehind ?? 0) > 0) parts.push(`LEFT BEHIND ${r.leftBehind ?? 0} processes (killed)`);
  line(parts.join('  '));
  line(`${' '.repeat(31)}${r.verdict.text}`);
}

// ---------------------------------------------------------------------------------------------

const facts = runFacts();
const fx = await makeFixtures();
const rows: Row[] = [];
try {
  const targets = [...(await seedTargets()), ...(await referenceTargets(fx))].filter(
    (t) => ONLY === undefined || ONLY.includes(t.id),
  );
  const all = plans(fx);
  for (const target of targets) {
    line(`${target.id}: ${target.launch ? 'measuring …' : 'not started'}`);
    const row = await measure(target, all[target.id]);
    row.verdict = verdict(row);
    rows.push(row);
    printRow(row);
  }
  const rec = recommend(rows);
  line('');
  for (const l of table(rows)) line(l);
  line('');
  line(rec.text);
  const left = rows.filter((r) => (r.leftBehind ?? 0) > 0).map((r) => r.id);
  line(
    left.length === 0
      ? 'every server process reaped'
      : `processes left behind (then killed): ${left.join(', ')}`,
  );
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'server-concurrency.json'),
    `${JSON.stringify({ facts, ks: KS, budgetMs: BUDGET_MS, rows, recommendation: rec }, null, 2)}\n`,
  );
  if (ONLY === undefined) {
    await writeGeneratedBlock(generatedDoc('server-concurrency'), facts, markdown(rows, rec));
    // What `mcp-fleet plan` reads of it beside the seed's config (each server's verdict, memory
    // and start), committed with it: the seed's advice is reproducible from a fresh clone.
    const verdicts = rows
      .filter((r) => r.origin === 'seed')
      .map((r) => ({
        id: r.id,
        verdict: r.verdict,
        ...(r.rssPeak !== undefined ? { rssPeak: r.rssPeak } : {}),
        ...(r.startMs !== undefined ? { startMs: Math.round(r.startMs) } : {}),
      }));
    await writeFile(
      path.join(ROOT, 'examples', 'seed', CONCURRENCY_RESULTS_FILE),
      `${JSON.stringify(
        {
          date: facts.date,
          commit: facts.commit,
          ks: KS,
          recommendation: { concurrency: Number(rec.value), sessionConcurrency: Number(rec.session) },
          rows: verdicts,
        },
        null,
        2,
      )}\n`,
    );
    line(`wrote docs/hosts.md and examples/seed/${CONCURRENCY_RESULTS_FILE}`);
  } else line('BENCH_ONLY: docs/hosts.md not written');
} finally {
  await rm(fx.dir, { recursive: true, force: true });
  killLive();
}
