import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validate as validateDockerfile } from 'dockerfile-utils';
import {
  NEEDS_NETWORK,
  runSeedFleet,
  seedFleetMarkdown,
  type SeedFleetReport,
} from '../../scripts/seed-fleet.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { ROOT } from '../helpers.js';

/**
 * The seed document's servers through mcp-fleet: built, synthesized, run, listed and called.
 * `npm run seed-fleet` runs the same and writes docs/seed-fleet.md.
 */
let report: SeedFleetReport;
/**
 * Servers this machine cannot build for a reason outside mcp-fleet: the Python version a server
 * pins is not installed (aws-diagram needs 3.12; pyenv provides it on the CI machines). They are
 * reported, and left out of the checks that need a build.
 */
const unbuildable = (): SeedFleetReport['rows'] =>
  report.rows.filter((r) => /Python 3\.\d+ is needed .* was not found/.test(r.buildError ?? ''));
const built = (): SeedFleetReport['rows'] => report.rows.filter((r) => !unbuildable().includes(r));

const SEED = path.join(ROOT, 'examples', 'seed');
const LOCK = path.join(SEED, 'mcp-fleet.lock.json');
let lockBefore: string;
let copy: string;

// The fleet is built in a copy of examples/seed: the test writes no tracked file (the lock).
before(async () => {
  lockBefore = await readFile(LOCK, 'utf8');
  copy = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-seed-'));
  await cp(SEED, copy, {
    recursive: true,
    filter: (src) => !['.mcp-fleet', 'cdk.out'].includes(path.basename(src)),
  });
  report = await runSeedFleet({
    configFile: path.join(copy, 'servers.yaml'),
    log: (s) => process.stderr.write(`# ${s}\n`),
  });
});

after(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe('the seed fleet (examples/seed/servers.yaml)', () => {
  test('the report has a row per server with its figures', () => {
    const markdown = seedFleetMarkdown(report);
    for (const r of report.rows)
      assert.match(
        markdown,
        new RegExp(
          `^\\| ${r.id}( \\(deprecated\\))? \\| \`${r.version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``,
          'm',
        ),
      );
    assert.match(markdown, /Synth: \d+ resources; cdk-nag AwsSolutions: no errors/);
  });

  test('every server builds: installed, tools discovered (or taken from its checked-in file) and lowered', (t) => {
    for (const r of unbuildable())
      t.diagnostic(`${r.id} cannot be built on this machine: ${r.buildError ?? ''}`);
    const failed = built()
      .filter((r) => r.buildError !== undefined)
      .map((r) => `${r.id}: ${r.buildError ?? ''}`);
    assert.deepEqual(failed, []);
    for (const r of built()) assert.ok((r.tools ?? 0) > 0, `${r.id}: no tools`);
    assert.ok(report.rows.length >= 18);
  });

  test("real schemas (Pydantic from the AWS Labs servers, zod, Go) are lowered to AgentCore's subset (Lambda targets; MCP-server targets keep theirs)", async () => {
    const config = await loadConfigOrThrow(path.join(copy, 'servers.yaml'));
    const mcpTargets = new Set(config.servers.filter((s) => s.gateway.targetType === 'mcp').map((s) => s.id));
    assert.ok(mcpTargets.has('github'), 'github is an MCP-server target in the seed fleet');
    const ALLOWED_KEYS = new Set(['type', 'description', 'properties', 'required', 'items']);
    const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);
    const check = (schema: unknown, where: string): void => {
      assert.ok(
        typeof schema === 'object' && schema !== null && !Array.isArray(schema),
        `${where}: not an object`,
      );
      const s = schema as Record<string, unknown>;
      for (const key of Object.keys(s)) assert.ok(ALLOWED_KEYS.has(key), `${where}: "${key}" left in`);
      assert.ok(TYPES.has(String(s['type'])), `${where}: type ${JSON.stringify(s['type'])}`);
      if (s['properties'] !== undefined)
        for (const [k, v] of Object.entries(s['properties'] as Record<string, unknown>))
          check(v, `${where}.${k}`);
      if (s['items'] !== undefined) check(s['items'], `${where}[]`);
      if (s['required'] !== undefined)
        for (const r of s['required'] as string[])
          assert.ok(
            r in ((s['properties'] as object | undefined) ?? {}),
            `${where}: required ${r} is not a property`,
          );
    };
    let pydantic = 0;
    for (const row of built()) {
      const dir = path.join(report.buildDir, row.id);
      const raw = JSON.parse(await readFile(path.join(dir, 'tools.json'), 'utf8')) as {
        tools: { inputSchema: object }[];
      };
      const lowered = JSON.parse(await readFile(path.join(dir, 'tools.lowered.json'), 'utf8')) as {
        name: string;
        inputSchema: Record<string, unknown>;
      }[];
      assert.equal(lowered.length, raw.tools.length);
      if (mcpTargets.has(row.id)) {
        // Listed by the gateway itself: kept as the server gives them, nothing lowered or warned.
        assert.deepEqual(
          lowered.map((t) => t.inputSchema),
          raw.tools.map((t) => t.inputSchema),
          row.id,
        );
        assert.equal(row.warnings, 0, `${row.id}: no lowering warnings`);
        continue;
      }
      for (const t of lowered) {
        check(t.inputSchema, `${row.id}___${t.name}`);
        assert.equal(t.inputSchema['type'], 'object');
      }
      if (JSON.stringify(raw).includes('"anyOf"')) pydantic += 1;
    }
    assert.ok(pydantic >= 8, `only ${pydantic} servers had anyOf schemas to lower`);
    // One Pydantic case in detail: Optional[str] = None becomes a string that is not required.
    if (unbuildable().some((r) => r.id === 'aws-diagram')) return;
    const diagram = JSON.parse(
      await readFile(path.join(report.buildDir, 'aws-diagram', 'tools.lowered.json'), 'utf8'),
    ) as {
      name: string;
      inputSchema: { properties: Record<string, { type: string }>; required?: string[] };
    }[];
    const generate = diagram.find((t) => t.name === 'generate_diagram');
    assert.equal(generate?.inputSchema.properties['filename']?.type, 'string');
    assert.ok(!(generate?.inputSchema.required ?? []).includes('filename'));
    assert.deepEqual(generate?.inputSchema.required, ['code']);
  });

  test('every image build context: a Dockerfile the validator accepts, and every file it copies', async () => {
    let images = 0;
    for (const row of built()) {
      const dir = path.join(report.buildDir, row.id, 'image');
      if (row.kind !== 'pypi') continue;
      images += 1;
      const dockerfile = await readFile(path.join(dir, 'Dockerfile'), 'utf8');
      assert.deepEqual(validateDockerfile(dockerfile), [], row.id);
      for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
        for (const f of (m[1] ?? '').split(' ')) assert.ok(existsSync(path.join(dir, f)), `${row.id}: ${f}`);
    }
    assert.ok(images >= 16);
  });

  test('synth of the whole fleet: cdk-nag clean, cfn-lint without errors', () => {
    assert.ok(!('error' in report.synth), 'error' in report.synth ? report.synth.error : '');
    if ('resources' in report.synth) {
      assert.ok(report.synth.resources > report.rows.length * 5);
      assert.match(report.synth.cfnLint, /^(no findings|0 errors)/);
    }
  });

  test('in dev, every server that can start offline lists its tools; the others fail fast with the reason', () => {
    for (const r of built()) {
      const expected = NEEDS_NETWORK[r.id];
      if (expected) {
        assert.match(
          r.startError ?? '',
          expected.error,
          `${r.id} should fail to start: ${r.startError ?? 'it listed tools'}`,
        );
      } else {
        assert.equal(r.startError, undefined, `${r.id}: ${r.startError ?? ''}`);
        assert.equal(r.listed, r.tools, `${r.id}: the gateway lists what the build discovered`);
      }
    }
  });

  test('one offline tool call per server that has one succeeds through the gateway', () => {
    const called = report.rows.filter((r) => r.call !== undefined);
    assert.ok(called.length >= 10, `only ${called.length} calls`);
    for (const r of called)
      assert.ok(r.call?.ok, `${r.id}: ${r.call?.tool ?? ''} → ${r.call?.excerpt ?? ''}`);
  });

  test('the checked-in lock file is left as it was', async () => {
    assert.equal(await readFile(LOCK, 'utf8'), lockBefore);
  });
});
