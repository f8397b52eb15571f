/**
 * AgentCore Gateway accepts a small subset of JSON Schema for a Lambda target's tools: `type`
 * (string, number, integer, boolean, array, object), `description`, `properties`, `required`,
 * `items`, with an object at the top. Real servers' schemas (Pydantic, zod) use much more. This
 * lowers a schema to that subset, keeping what it can in descriptions, with one warning per
 * lossy change. The local gateway serves exactly what the build step declares.
 */

type Json = Record<string, unknown>;

export interface LoweredSchema {
  schema: Json;
  /** One line per lossy change: `path: what was changed`. */
  warnings: string[];
}

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);
/** Constraints the gateway cannot express; the server still enforces them. */
const CONSTRAINTS = [
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'propertyNames',
  'patternProperties',
  'contains',
  'not',
  'if',
  'then',
  'else',
  'dependentRequired',
  'dependentSchemas',
  'prefixItems',
  'additionalItems',
  'unevaluatedProperties',
  'unevaluatedItems',
] as const;
/** Annotations dropped without loss of meaning for the caller. */
const SILENT = new Set([
  '$schema',
  '$id',
  'title',
  'examples',
  'additionalProperties',
  '$comment',
  'readOnly',
  'writeOnly',
  'deprecated',
  'default',
  'enum',
  'const',
  '$defs',
  'definitions',
  '$ref',
  'anyOf',
  'oneOf',
  'allOf',
  'nullable',
  'type',
  'description',
  'properties',
  'required',
  'items',
]);

const MAX_REF_DEPTH = 8;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function lowerToolSchema(input: unknown): LoweredSchema {
  const warnings: string[] = [];
  const root = isObject(input) ? input : {};
  const defs: Json = {
    ...(isObject(root['definitions']) ? root['definitions'] : {}),
    ...(isObject(root['$defs']) ? root['$defs'] : {}),
  };
  const lowered = lower(root, '', { warnings, nullable: new WeakSet(), defs, depth: 0, root });
  if (lowered['type'] !== 'object') {
    warnings.push(
      `(top): the input schema is ${JSON.stringify(lowered['type'] ?? 'untyped')}, not an object; served as an object with no properties`,
    );
    return { schema: { type: 'object', properties: {} }, warnings };
  }
  if (!isObject(lowered['properties'])) lowered['properties'] = {};
  return { schema: lowered, warnings };
}

interface Ctx {
  warnings: string[];
  /** Lowered schemas of values that may be null (a required one stops being required). */
  nullable: WeakSet<Json>;
  defs: Json;
  depth: number;
  root: Json;
}

function resolveRef(ref: string, ctx: Ctx): Json | undefined {
  const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
  if (m) {
    const target = ctx.defs[decodeURIComponent(m[1] ?? '')];
    return isObject(target) ? target : undefined;
  }
  if (ref === '#') return ctx.root;
  return undefined;
}

/** One node on its way down: the schema as rewritten so far, and the notes for its description. */
interface Node {
  schema: Json;
  /** Its path for warnings (`(top)` for the root). */
  at: string;
  /** Sentences added to the description, in order. */
  notes: string[];
  /** It may be null (a union or type with null, or `nullable: true`). */
  nullable: boolean;
}

/** Lowers one schema node: each keyword family in turn, then its properties or items. */
function lower(input: Json, path: string, outer: Ctx): Json {
  const at = path === '' ? '(top)' : path;
  const inlined = inlineRef(input, at, outer);
  if ('lowered' in inlined) return inlined.lowered;
  const { ctx } = inlined;
  const node: Node = { schema: mergeAllOf(inlined.schema, ctx), at, notes: [], nullable: false };
  node.nullable = node.schema['nullable'] === true;
  pickUnion(node, ctx);
  const type = lowerType(node, ctx);
  describeTheRest(node, ctx);

  const out: Json = { type };
  const description = [
    typeof node.schema['description'] === 'string' ? node.schema['description'] : undefined,
    ...node.notes,
  ]
    .filter((d): d is string => d !== undefined && d !== '')
    .join(' ');
  if (description !== '') out['description'] = description;
  if (type === 'object') lowerProperties(node.schema, path, ctx, out);
  if (node.nullable) ctx.nullable.add(out);
  if (type === 'array') lowerItems(node.schema, path, at, ctx, out);
  return out;
}

/**
 * `$ref` → the definition inlined (bounded, for recursive schemas): the schema to go on with and
 * the context one level deeper, or the lowered answer when the reference cannot be followed.
 */
function inlineRef(schema: Json, at: string, ctx: Ctx): { schema: Json; ctx: Ctx } | { lowered: Json } {
  if (typeof schema['$ref'] !== 'string') return { schema, ctx };
  const ref = schema['$ref'];
  if (ctx.depth >= MAX_REF_DEPTH) {
    ctx.warnings.push(`${at}: recursive $ref ${ref} cut at depth ${MAX_REF_DEPTH}; served as an object`);
    return {
      lowered: {
        type: 'object',
        ...(typeof schema['description'] === 'string' ? { description: schema['description'] } : {}),
      },
    };
  }
  const target = resolveRef(ref, ctx);
  if (!target) {
    ctx.warnings.push(`${at}: $ref ${ref} cannot be resolved; served as a string`);
    return { lowered: { type: 'string' } };
  }
  const { $ref: _r, ...rest } = schema;
  return { schema: { ...target, ...rest }, ctx: { ...ctx, depth: ctx.depth + 1 } };
}

/** `allOf` → its parts merged into the schema. */
function mergeAllOf(schema: Json, ctx: Ctx): Json {
  if (!Array.isArray(schema['allOf'])) return schema;
  const parts = schema['allOf'].filter(isObject);
  const { allOf: _a, ...rest } = schema;
  return parts.reduce<Json>(
    (acc, part) =>
      mergeSchemas(acc, typeof part['$ref'] === 'string' ? (resolveRef(part['$ref'], ctx) ?? {}) : part),
    rest,
  );
}

/** `anyOf` / `oneOf` → the non-null option; a union of several is lossy. */
function pickUnion(node: Node, ctx: Ctx): void {
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = node.schema[key];
    if (!Array.isArray(options)) continue;
    const real = options.filter(isObject).filter((o) => o['type'] !== 'null');
    if (real.length < options.length) node.nullable = true;
    const { [key]: _o, ...rest } = node.schema;
    if (real.length === 0) {
      node.schema = { ...rest, type: 'string' };
      continue;
    }
    if (real.length > 1) {
      const kinds = real.map((o) =>
        typeof o['type'] === 'string'
          ? o['type']
          : typeof o['$ref'] === 'string'
            ? o['$ref'].split('/').at(-1)
            : 'schema',
      );
      ctx.warnings.push(
        `${node.at}: ${key} of ${kinds.join(' | ')} narrowed to the first (${String(kinds[0])})`,
      );
      node.notes.push(`One of: ${kinds.join(', ')}.`);
    }
    const first = real[0] as Json;
    const resolved =
      typeof first['$ref'] === 'string'
        ? { ...(resolveRef(first['$ref'], ctx) ?? { type: 'string' }) }
        : first;
    node.schema = { ...resolved, ...rest };
  }
}

/**
 * The one type AgentCore accepts: `type: [X, "null"]` → X; `enum` / `const` → the values' type,
 * the values in the description; else inferred from `properties` / `items`; else a string.
 */
function lowerType(node: Node, ctx: Ctx): string {
  const { schema, at, notes } = node;
  let type = schema['type'];
  if (Array.isArray(type)) {
    const real = type.filter((t) => t !== 'null');
    if (real.length < type.length) node.nullable = true;
    if (real.length > 1) {
      ctx.warnings.push(`${at}: type ${type.join(' | ')} narrowed to ${String(real[0])}`);
      notes.push(`Type: ${real.join(' or ')}.`);
    }
    type = real[0] ?? 'string';
  }
  const values = Array.isArray(schema['enum'])
    ? schema['enum']
    : 'const' in schema
      ? [schema['const']]
      : undefined;
  if (values !== undefined) {
    if (type === undefined) type = typeOfValue(values[0]);
    notes.push(
      values.length === 1
        ? `Must be ${describeValue(values[0])}.`
        : `One of: ${values.map(describeValue).join(', ')}.`,
    );
  }
  if (type === undefined)
    type = isObject(schema['properties']) ? 'object' : schema['items'] !== undefined ? 'array' : undefined;
  if (typeof type !== 'string' || !TYPES.has(type)) {
    ctx.warnings.push(
      `${at}: ${type === undefined ? 'no type' : `type ${JSON.stringify(type)}`}; served as a string`,
    );
    return 'string';
  }
  return type;
}

function typeOfValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value === 'boolean' ? 'boolean' : 'string';
}

/** The default, nullability and constraints said in the description; other keywords dropped, with a warning. */
function describeTheRest(node: Node, ctx: Ctx): void {
  const { schema, at, notes } = node;
  if ('default' in schema && schema['default'] !== null && schema['default'] !== undefined)
    notes.push(`Default: ${describeValue(schema['default'])}.`);
  if (node.nullable) notes.push('May be null.');
  const dropped = CONSTRAINTS.filter((c) => c in schema);
  if (dropped.length > 0) {
    ctx.warnings.push(
      `${at}: ${dropped.join(', ')} not expressible; described instead (the server still checks)`,
    );
    notes.push(dropped.map((c) => `${c}: ${describeValue(schema[c])}`).join('; ') + '.');
  }
  const unknown = Object.keys(schema).filter(
    (k) => !SILENT.has(k) && !(CONSTRAINTS as readonly string[]).includes(k),
  );
  if (unknown.length > 0) ctx.warnings.push(`${at}: ${unknown.join(', ')} dropped`);
}

/** An object's properties, each lowered; a required one that may be null stops being required. */
function lowerProperties(schema: Json, path: string, ctx: Ctx, out: Json): void {
  const props = isObject(schema['properties']) ? schema['properties'] : {};
  const lowered: Json = {};
  for (const [name, sub] of Object.entries(props)) {
    lowered[name] = lower(isObject(sub) ? sub : {}, path === '' ? name : `${path}.${name}`, ctx);
  }
  if (Object.keys(lowered).length > 0 || path === '') out['properties'] = lowered;
  const required = Array.isArray(schema['required'])
    ? schema['required'].filter((r): r is string => typeof r === 'string' && r in lowered)
    : [];
  const nullable = (name: string): boolean => ctx.nullable.has(lowered[name] as Json);
  for (const name of required.filter(nullable)) {
    ctx.warnings.push(
      `${path === '' ? name : `${path}.${name}`}: required but nullable; no longer required (null cannot be sent)`,
    );
  }
  const kept = required.filter((r) => !nullable(r));
  if (kept.length > 0) out['required'] = kept;
}

/** An array's items lowered; items not given (or unconstrained) are served as strings. */
function lowerItems(schema: Json, path: string, at: string, ctx: Ctx, out: Json): void {
  const items = schema['items'];
  if (isObject(items) && Object.keys(items).length > 0) {
    out['items'] = lower(items, `${path}[]`, ctx);
    return;
  }
  ctx.warnings.push(
    `${at}: array items ${items === undefined ? 'not given' : 'unconstrained'}; served as strings`,
  );
  out['items'] = { type: 'string' };
}

function mergeSchemas(a: Json, b: Json): Json {
  const out: Json = { ...a, ...b };
  if (isObject(a['properties']) || isObject(b['properties'])) {
    out['properties'] = {
      ...(isObject(a['properties']) ? a['properties'] : {}),
      ...(isObject(b['properties']) ? b['properties'] : {}),
    };
  }
  if (Array.isArray(a['required']) || Array.isArray(b['required'])) {
    out['required'] = [
      ...new Set([
        ...(Array.isArray(a['required']) ? (a['required'] as unknown[]) : []),
        ...(Array.isArray(b['required']) ? (b['required'] as unknown[]) : []),
      ]),
    ];
  }
  return out;
}
