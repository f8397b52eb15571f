// The import rules of docs/architecture.md, enforced: what each folder of src/ may import, no
// cycle between folders, and the CDK entry (mcp-fleet/cdk) loading none of the runtime's packages.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { FUNCTION_ENV } from '../src/contract/function-env.js';
import { ROOT } from './helpers.js';

const SRC = path.join(ROOT, 'src');

/**
 * Each folder of src/ (and each room of src/local/) with the folders it may import
 * (docs/architecture.md, "Parts"). The local emulator's rooms import one way: dev → gateway → lambda.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  contract: [],
  platform: [],
  config: ['contract'],
  protocol: ['contract', 'config'],
  runtime: ['contract', 'platform', 'config', 'protocol'],
  build: ['contract', 'platform', 'config'],
  'local/lambda': ['contract', 'platform', 'config', 'build'],
  'local/gateway': ['contract', 'platform', 'config', 'protocol', 'build', 'local/lambda'],
  'local/dev': [
    'contract',
    'platform',
    'config',
    'protocol',
    'runtime',
    'build',
    'local/lambda',
    'local/gateway',
  ],
  infra: ['contract', 'config', 'build'],
  deploy: ['contract', 'config', 'build', 'infra'],
  verify: ['contract', 'config', 'infra'],
  plan: ['contract', 'config', 'build'],
  cli: [
    'contract',
    'platform',
    'config',
    'protocol',
    'runtime',
    'build',
    'local/lambda',
    'local/gateway',
    'local/dev',
    'infra',
    'deploy',
    'verify',
    'plan',
  ],
};

interface Import {
  from: string;
  /** A path under src/ for relative imports, else the package specifier. */
  to: string;
  local: boolean;
}

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(SRC, f));
}

function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map(({ fileName }) =>
    fileName.startsWith('.')
      ? { from: file, to: path.resolve(path.dirname(file), fileName).replace(/\.js$/, '.ts'), local: true }
      : { from: file, to: fileName, local: false },
  );
}

/** The folder of src/ a file is in; in src/local/, its room (`local/lambda`, …). */
const folderOf = (file: string): string => {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts[0] === 'local' ? `local/${parts[1] ?? ''}` : (parts[0] ?? '');
};
const all = sourceFiles().flatMap(importsOf);

describe('import rules', () => {
  test('every folder of src/ has its rule', () => {
    const folders = new Set(sourceFiles().map(folderOf));
    assert.deepEqual([...folders].sort(), Object.keys(MAY_IMPORT).sort());
  });

  test('each folder imports only what its rule allows', () => {
    const broken = all
      .filter((i) => i.local && folderOf(i.to) !== folderOf(i.from))
      .filter((i) => !(MAY_IMPORT[folderOf(i.from)] ?? []).includes(folderOf(i.to)))
      .map((i) => `${path.relative(ROOT, i.from)} imports ${path.relative(ROOT, i.to)}`);
    assert.deepEqual(broken, []);
  });

  test('the rules themselves have no cycle between folders', () => {
    const seen = new Set<string>();
    const visit = (folder: string, trail: string[]): void => {
      assert.ok(!trail.includes(folder), `cycle: ${[...trail, folder].join(' → ')}`);
      if (seen.has(folder)) return;
      for (const next of MAY_IMPORT[folder] ?? []) visit(next, [...trail, folder]);
      seen.add(folder);
    };
    for (const folder of Object.keys(MAY_IMPORT)) visit(folder, []);
  });

  test('the CDK entry (mcp-fleet/cdk) reaches no runtime package (Powertools, the MCP SDK, the AWS SDK)', () => {
    const reached = new Set<string>();
    const packages = new Set<string>();
    const walk = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const i of importsOf(file)) {
        if (i.local) walk(i.to);
        else packages.add(i.to);
      }
    };
    walk(path.join(SRC, 'infra', 'index.ts'));
    const runtimeOnly = [...packages].filter((p) =>
      /^(@aws-lambda-powertools|@modelcontextprotocol|@aws-sdk)\//.test(p),
    );
    assert.deepEqual(runtimeOnly, []);
    assert.ok(packages.has('aws-cdk-lib'), 'the walk did reach the constructs');
  });

  test("invoke, tools and verify load none of the local service (only the dev server's defaults)", () => {
    const reached = new Set<string>();
    const walk = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const i of importsOf(file)) if (i.local) walk(i.to);
    };
    for (const command of ['invoke', 'tools', 'verify'])
      walk(path.join(SRC, 'cli', 'commands', `${command}.ts`));
    const local = [...reached]
      .map((f) => path.relative(SRC, f).split(path.sep).join('/'))
      .filter((f) => f.startsWith('local/'));
    assert.deepEqual(local, ['local/dev/defaults.ts']);
  });

  test('the local worker (mounted alone in the sandbox) names the handler variable as the contract does', () => {
    const worker = readFileSync(path.join(SRC, 'local', 'lambda', 'worker.ts'), 'utf8');
    assert.ok(worker.includes(`process.env['${FUNCTION_ENV.handler}']`));
    const valueImports = importsOf(path.join(SRC, 'local', 'lambda', 'worker.ts')).filter(
      (i) =>
        i.local &&
        !/^import type /m.test(worker.split('\n').find((l) => l.includes(path.basename(i.to, '.ts'))) ?? ''),
    );
    assert.deepEqual(valueImports, [], 'the worker has no value imports of our own modules');
  });
});

describe('functions', () => {
  /** A function longer than this is split along its seams (docs/architecture.md). */
  const MAX_FUNCTION_LINES = 80;

  test(`no function of src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const long: string[] = [];
    for (const file of sourceFiles()) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
          const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (last - first + 1 > MAX_FUNCTION_LINES)
            long.push(`${path.relative(ROOT, file)}:${first + 1} (${last - first + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepEqual(long, []);
  });
});

describe('test tiers', () => {
  test('test:fast, test:local and test:e2e together run every test file once', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const expand = (pattern: string): string[] => {
      const re = new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
      return allTests.filter((f) => re.test(f));
    };
    const allTests = readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts') && !f.includes('fixtures'))
      .map((f) => `test/${f.split(path.sep).join('/')}`);
    const tiered = ['test:fast', 'test:local', 'test:e2e'].flatMap((tier) =>
      (scripts[tier] ?? '')
        .split(/\s+/)
        .filter((w) => w.startsWith('test/'))
        .flatMap(expand),
    );
    assert.deepEqual([...tiered].sort(), [...allTests].sort());
  });
});

describe('scripts and benchmarks', () => {
  test('import nothing from test/ (shared helpers live in scripts/support.ts)', () => {
    const files = ['bench', 'scripts'].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(ROOT, dir, f)),
    );
    const intoTests = files
      .flatMap(importsOf)
      .filter((i) => i.local && path.relative(ROOT, i.to).startsWith(`test${path.sep}`))
      .map((i) => `${path.relative(ROOT, i.from)} imports ${path.relative(ROOT, i.to)}`);
    assert.deepEqual(intoTests, []);
    assert.ok(files.length > 5, 'the scripts and benchmarks were read');
  });
});
