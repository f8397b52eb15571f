// The per-config paths (src/config/fleet-paths.ts): the default config keeps today's names, any
// other config gets its own, a name that would collide gets its whole file name, and no two
// configs of one folder share a file unless their names differ only by .yaml/.yml endings.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FLEET_ERROR, FleetError } from '../../src/contract/errors.js';
import { fleetKey, fleetPaths, type FleetPaths } from '../../src/config/fleet-paths.js';
import { property } from '../properties.js';

const DIR = path.join(path.sep, 'work', 'project');
const at = (...parts: string[]): string => path.join(DIR, ...parts);
/** The six paths, relative to the config's folder. */
const relative = (p: FleetPaths): Record<string, string> => ({
  lockFile: path.relative(DIR, p.lockFile),
  buildDir: path.relative(DIR, p.buildDir),
  devDir: path.relative(DIR, p.devDir),
  devState: path.relative(DIR, p.devState),
  devClaim: path.relative(DIR, p.devClaim),
  defaultLockFile: path.relative(DIR, p.defaultLockFile),
});

describe('fleetPaths', () => {
  test('servers.yaml and servers.yml keep the names mcp-fleet always used', () => {
    for (const name of ['servers.yaml', 'servers.yml']) {
      const p = fleetPaths(at(name));
      assert.equal(p.key, undefined);
      assert.equal(p.config, at(name));
      assert.deepEqual(relative(p), {
        lockFile: 'mcp-fleet.lock.json',
        buildDir: path.join('.mcp-fleet', 'build'),
        devDir: path.join('.mcp-fleet', 'dev'),
        devState: path.join('.mcp-fleet', 'dev.json'),
        devClaim: path.join('.mcp-fleet', 'dev.claim'),
        defaultLockFile: 'mcp-fleet.lock.json',
      });
    }
  });

  test('any other <stem>.yaml|yml gets <stem>.lock.json beside it and .mcp-fleet/<stem>/', () => {
    for (const [name, stem] of [
      ['servers.prod.yaml', 'servers.prod'],
      ['prod.yml', 'prod'],
      ['Staging.YAML', 'Staging'],
      ['servers.yaml.bak.yaml', 'servers.yaml.bak'],
    ] as const) {
      const p = fleetPaths(at(name));
      assert.equal(p.key, stem, name);
      assert.deepEqual(
        relative(p),
        {
          lockFile: `${stem}.lock.json`,
          buildDir: path.join('.mcp-fleet', stem, 'build'),
          devDir: path.join('.mcp-fleet', stem, 'dev'),
          devState: path.join('.mcp-fleet', stem, 'dev.json'),
          devClaim: path.join('.mcp-fleet', stem, 'dev.claim'),
          defaultLockFile: 'mcp-fleet.lock.json',
        },
        name,
      );
    }
  });

  test('a relative config is resolved against the working folder', () => {
    const p = fleetPaths(path.join('fleets', 'servers.prod.yaml'));
    assert.equal(p.lockFile, path.resolve('fleets', 'servers.prod.lock.json'));
    assert.equal(p.buildDir, path.resolve('fleets', '.mcp-fleet', 'servers.prod', 'build'));
  });

  test('a stem that would collide takes the whole file name (mcp-fleet.yaml, dev.yaml, Build.yml, .yaml, ..yaml)', () => {
    for (const name of [
      'mcp-fleet.yaml',
      'MCP-Fleet.yml',
      'dev.yaml',
      'DEV.yaml',
      'dev.json.yaml',
      'dev.claim.yaml',
      'Build.yml',
      'tools.yaml',
      '.yaml',
      '..yaml',
      '...yaml',
    ]) {
      const p = fleetPaths(at(name));
      assert.equal(p.key, name, name);
      assert.equal(p.lockFile, at(`${name}.lock.json`), name);
      assert.equal(p.buildDir, at('.mcp-fleet', name, 'build'), name);
      assert.equal(p.devState, at('.mcp-fleet', name, 'dev.json'), name);
    }
    // The case that motivated the rule: mcp-fleet.yaml beside servers.yaml shares nothing with it.
    assert.notEqual(fleetPaths(at('mcp-fleet.yaml')).lockFile, fleetPaths(at('servers.yaml')).lockFile);
  });

  test('a config not named .yaml/.yml is named by its whole file name; a reserved one is refused', () => {
    assert.equal(fleetKey(at('fleet.json')), 'fleet.json');
    assert.equal(fleetPaths(at('fleet.json')).lockFile, at('fleet.json.lock.json'));
    for (const name of ['build', 'mcp-fleet', 'Tools', 'dev.json', 'dev.claim']) {
      assert.throws(
        () => fleetPaths(at(name)),
        (err: unknown) =>
          err instanceof FleetError &&
          err.code === FLEET_ERROR.usage &&
          err.message.includes(at(name)) &&
          err.message.includes(`rename it, e.g. to ${name}.yaml`),
        name,
      );
    }
  });

  test('property: two configs of one folder share no file or folder unless their names differ only by .yaml/.yml endings', async (t) => {
    const fragment = fc.constantFrom(
      'servers',
      'mcp-fleet',
      'build',
      'Build',
      'dev',
      'tools',
      'prod',
      'json',
      'claim',
      'lock',
      '.',
      '-',
      'yaml',
      '.yaml',
      '.yml',
    );
    const name = fc
      .tuple(
        fc.array(fragment, { minLength: 0, maxLength: 4 }),
        fc.constantFrom('.yaml', '.yml', '.YML', '', '.json'),
      )
      .map(([parts, end]) => `${parts.join('')}${end}`)
      .filter((n) => n !== '' && n !== '.' && n !== '..');
    /** The name without its .yaml/.yml endings, lower case (case-insensitive file systems). */
    const base = (n: string): string => n.replace(/(\.ya?ml)+$/i, '').toLowerCase();
    /** Every path a fleet owns: its lock file and its four folders or files under .mcp-fleet. */
    const owned = (p: FleetPaths): string[] => [p.lockFile, p.buildDir, p.devDir, p.devState, p.devClaim];
    const inside = (a: string, b: string): boolean => {
      const rel = path.relative(b.toLowerCase(), a.toLowerCase());
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    };
    const paths = (n: string): FleetPaths | undefined => {
      try {
        return fleetPaths(at(n));
      } catch (err) {
        assert.ok(err instanceof FleetError, String(err));
        return undefined;
      }
    };
    await property(
      t,
      'per-config paths are distinct',
      fc.tuple(name, name),
      ([a, b]) => {
        const pa = paths(a);
        if (pa === undefined) return;
        // Against another generated config, and always against the default fleet and mcp-fleet's tools.
        for (const other of [b, 'servers.yaml']) {
          const po = paths(other);
          if (po === undefined || base(a) === base(other)) continue;
          for (const x of owned(pa))
            for (const y of [...owned(po), at('.mcp-fleet', 'tools')])
              assert.ok(!inside(x, y) && !inside(y, x), `${a}: ${x} and ${other}: ${y}`);
        }
      },
      3000,
    );
  });
});
