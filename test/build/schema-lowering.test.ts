import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lowerToolSchema } from '../../src/build/schema-lowering.js';

/** Every key AgentCore accepts in a Lambda target's tool schema. */
const ALLOWED = new Set(['type', 'description', 'properties', 'required', 'items']);

function assertSubset(schema: unknown, path = '(top)'): void {
  assert.ok(typeof schema === 'object' && schema !== null, path);
  const s = schema as Record<string, unknown>;
  for (const key of Object.keys(s)) assert.ok(ALLOWED.has(key), `${path}: ${key} is not allowed`);
  assert.ok(
    ['string', 'number', 'integer', 'boolean', 'array', 'object'].includes(String(s['type'])),
    `${path}: type ${String(s['type'])}`,
  );
  if (s['type'] === 'array') assertSubset(s['items'], `${path}[]`);
  for (const [k, v] of Object.entries((s['properties'] as Record<string, unknown> | undefined) ?? {}))
    assertSubset(v, `${path}.${k}`);
}

describe('lowering to the AgentCore schema subset', () => {
  test('a Pydantic (FastMCP) schema: Optional, enums through $defs, defaults, titles', () => {
    // The shape FastMCP emits for: def get_metrics(cluster: str, namespace: Optional[str] = None,
    //   kind: Kind = Kind.pod, limit: Annotated[int, Field(ge=1, le=100)] = 10, tags: list[str] | None = None)
    const pydantic = {
      $defs: { Kind: { enum: ['pod', 'node', 'service'], title: 'Kind', type: 'string' } },
      properties: {
        cluster: { description: 'EKS cluster name', title: 'Cluster', type: 'string' },
        namespace: {
          anyOf: [{ type: 'string' }, { type: 'null' }],
          default: null,
          description: 'Namespace',
          title: 'Namespace',
        },
        kind: { $ref: '#/$defs/Kind', default: 'pod' },
        limit: { default: 10, maximum: 100, minimum: 1, title: 'Limit', type: 'integer' },
        tags: {
          anyOf: [{ items: { type: 'string' }, type: 'array' }, { type: 'null' }],
          default: null,
          title: 'Tags',
        },
        when: { format: 'date-time', type: 'string' },
      },
      required: ['cluster', 'namespace'],
      title: 'get_metricsArguments',
      type: 'object',
    };
    const { schema, warnings } = lowerToolSchema(pydantic);
    assertSubset(schema);
    assert.deepEqual(schema, {
      type: 'object',
      properties: {
        cluster: { type: 'string', description: 'EKS cluster name' },
        namespace: { type: 'string', description: 'Namespace May be null.' },
        kind: { type: 'string', description: 'One of: pod, node, service. Default: pod.' },
        limit: { type: 'integer', description: 'Default: 10. minimum: 1; maximum: 100.' },
        tags: { type: 'array', description: 'May be null.', items: { type: 'string' } },
        when: { type: 'string', description: 'format: date-time.' },
      },
      required: ['cluster'],
    });
    assert.deepEqual(warnings, [
      'limit: minimum, maximum not expressible; described instead (the server still checks)',
      'when: format not expressible; described instead (the server still checks)',
      'namespace: required but nullable; no longer required (null cannot be sent)',
    ]);
  });

  test('a zod (MCP TypeScript SDK) schema: additionalProperties, $schema, items {}', () => {
    const zod = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        paths: { type: 'array', items: { type: 'string' }, minItems: 1 },
        edits: {
          type: 'array',
          items: {
            type: 'object',
            properties: { oldText: { type: 'string' }, newText: { type: 'string' } },
            required: ['oldText', 'newText'],
            additionalProperties: false,
          },
        },
        anything: { type: 'array', items: {} },
        mode: { type: ['string', 'number'] },
      },
      required: ['paths'],
      additionalProperties: false,
    };
    const { schema, warnings } = lowerToolSchema(zod);
    assertSubset(schema);
    assert.deepEqual((schema['properties'] as Record<string, unknown>)['edits'], {
      type: 'array',
      items: {
        type: 'object',
        properties: { oldText: { type: 'string' }, newText: { type: 'string' } },
        required: ['oldText', 'newText'],
      },
    });
    assert.deepEqual(warnings, [
      'paths: minItems not expressible; described instead (the server still checks)',
      'anything: array items unconstrained; served as strings',
      'mode: type string | number narrowed to string',
    ]);
  });

  test('a union of objects, allOf, recursive $ref and a non-object top level', () => {
    const { schema, warnings } = lowerToolSchema({
      definitions: { Node: { type: 'object', properties: { child: { $ref: '#/definitions/Node' } } } },
      type: 'object',
      properties: {
        target: { oneOf: [{ type: 'object', properties: { id: { type: 'string' } } }, { type: 'integer' }] },
        merged: {
          allOf: [
            { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
            { properties: { b: { type: 'number' } } },
          ],
        },
        tree: { $ref: '#/definitions/Node' },
      },
    });
    assertSubset(schema);
    const props = schema['properties'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(props['merged'], {
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'number' } },
      required: ['a'],
    });
    assert.equal(warnings[0], 'target: oneOf of object | integer narrowed to the first (object)');
    assert.ok(warnings.some((w) => /recursive \$ref #\/definitions\/Node cut at depth 8/.test(w)));
    const top = lowerToolSchema({ type: 'string' });
    assert.deepEqual(top.schema, { type: 'object', properties: {} });
    assert.match(top.warnings[0] ?? '', /not an object/);
  });
});
