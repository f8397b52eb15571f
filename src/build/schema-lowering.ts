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

function lower(node: Json, path: string, ctx: Ctx): Json {
  const at = path === '' ? '(top)' : path;
  let schema = node;
  const notes: string[] = [];

  // $ref → inlined (bounded, for recursive schemas).
  if (typeof schema['$ref'] === 'string') {
    const ref = schema['$ref'];
    if (ctx.depth >= MAX_REF_DEPTH) {
      ctx.warnings.push(`${at}: recursive $ref ${ref} cut at depth ${MAX_REF_DEPTH}; served as an object`);
      return {
        type: 'object',
        ...(typeof schema['description'] === 'string' ? { description: schema['description'] } : {}),
      };
    }
    const target = resolveRef(ref, ctx);
    if (!target) {
      ctx.warnings.push(`${at}: $ref ${ref} cannot be resolved; served as a string`);
      return { type: 'string' };
    }
    const { $ref: _r, ...rest } = schema;
    schema = { ...target, ...rest };
    ctx = { ...ctx, depth: ctx.depth + 1 };
  }

  // allOf → merged.
  if (Array.isArray(schema['allOf'])) {
    const parts = schema['allOf'].filter(isObject);
    const { allOf: _a, ...rest } = schema;
    schema = parts.reduce<Json>(
      (acc, part) =>
        mergeSchemas(acc, typeof part['$ref'] === 'string' ? (resolveRef(part['$ref'], ctx) ?? {}) : part),
      rest,
    );
  }

  // anyOf / oneOf → the non-null option; a union of several is lossy.
  let nullable = schema['nullable'] === true;
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (!Array.isArray(options)) continue;
    const real = options.filter(isObject).filter((o) => o['type'] !== 'null');
    if (real.length < options.length) nullable = true;
    const { [key]: _o, ...rest } = schema;
    if (real.length === 0) {
      schema = { ...rest, type: 'string' };
    } else {
      if (real.length > 1) {
        const kinds = real.map((o) =>
          typeof o['type'] === 'string'
            ? o['type']
            : typeof o['$ref'] === 'string'
              ? o['$ref'].split('/').at(-1)
              : 'schema',
        );
        ctx.warnings.push(
          `${at}: ${key} of ${kinds.join(' | ')} narrowed to the first (${String(kinds[0])})`,
        );
        notes.push(`One of: ${kinds.join(', ')}.`);
      }
      const first = real[0] as Json;
      const resolved =
        typeof first['$ref'] === 'string'
          ? { ...(resolveRef(first['$ref'], ctx) ?? { type: 'string' }) }
          : first;
      schema = { ...resolved, ...rest };
    }
  }

  // type: [X, "null"] → X.
  let type = schema['type'];
  if (Array.isArray(type)) {
    const real = type.filter((t) => t !== 'null');
    if (real.length < type.length) nullable = true;
    if (real.length > 1) {
      ctx.warnings.push(`${at}: type ${type.join(' | ')} narrowed to ${String(real[0])}`);
      notes.push(`Type: ${real.join(' or ')}.`);
    }
    type = real[0] ?? 'string';
  }

  // enum / const → the values' type, values in the description.
  const values = Array.isArray(schema['enum'])
    ? schema['enum']
    : 'const' in schema
      ? [schema['const']]
      : undefined;
  if (values !== undefined) {
    if (type === undefined)
      type =
        typeof values[0] === 'number'
          ? Number.isInteger(values[0])
            ? 'integer'
            : 'number'
          : typeof values[0] === 'boolean'
            ? 'boolean'
            : 'string';
    notes.push(
      values.length === 1
        ? `Must be ${describeValue(values[0])}.`
        : `One of: ${values.map(describeValue).join(', ')}.`,
    );
  }
  if (type === undefined) {
    type = isObject(schema['properties']) ? 'object' : schema['items'] !== undefined ? 'array' : undefined;
  }
  if (typeof type !== 'string' || !TYPES.has(type)) {
    ctx.warnings.push(
      `${at}: ${type === undefined ? 'no type' : `type ${JSON.stringify(type)}`}; served as a string`,
    );
    type = 'string';
  }

  if ('default' in schema && schema['default'] !== null && schema['default'] !== undefined)
    notes.push(`Default: ${describeValue(schema['default'])}.`);
  if (nullable) notes.push('May be null.');
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

  const out: Json = { type };
  const description = [
    typeof schema['description'] === 'string' ? schema['description'] : undefined,
    ...notes,
  ]
    .filter((d): d is string => d !== undefined && d !== '')
    .join(' ');
  if (description !== '') out['description'] = description;

  if (type === 'object') {
    const props = isObject(schema['properties']) ? schema['properties'] : {};
    const lowered: Json = {};
    for (const [name, sub] of Object.entries(props)) {
      lowered[name] = lower(isObject(sub) ? sub : {}, path === '' ? name : `${path}.${name}`, ctx);
    }
    if (Object.keys(lowered).length > 0 || path === '') out['properties'] = lowered;
    const required = Array.isArray(schema['required'])
      ? schema['required'].filter((r): r is string => typeof r === 'string' && r in lowered)
      : [];
    for (const name of required.filter((r) => ctx.nullable.has(lowered[r] as Json))) {
      ctx.warnings.push(
        `${path === '' ? name : `${path}.${name}`}: required but nullable; no longer required (null cannot be sent)`,
      );
    }
    required.splice(0, required.length, ...required.filter((r) => !ctx.nullable.has(lowered[r] as Json)));
    if (required.length > 0) out['required'] = required;
  }
  if (nullable) ctx.nullable.add(out);
  if (type === 'array') {
    const items = schema['items'];
    if (isObject(items) && Object.keys(items).length > 0) {
      out['items'] = lower(items, `${path}[]`, ctx);
    } else {
      ctx.warnings.push(
        `${at}: array items ${items === undefined ? 'not given' : 'unconstrained'}; served as strings`,
      );
      out['items'] = { type: 'string' };
    }
  }
  return out;
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
