import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  visit,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
} from 'yaml';
import type * as z from 'zod';
import { nearest } from './describe.js';
import type { Problem } from './problems.js';
import { scalarTextLocator } from './policy.js';
import type { Position } from './cedar.js';

export type PathKey = string | number;

/** Maps model paths to places in the YAML text. */
export class SourceMap {
  serversPrefix: PathKey[] = ['servers'];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The YAML text (set by the loader), for places inside string values. */
  text = '';

  /** Maps an offset inside the string value at `path` to its place in the file. */
  textLocator(path: readonly PathKey[]): (offset: number) => Position {
    return scalarTextLocator(this.doc.getIn(path, true), this.file, this.text, (o) => this.lines.linePos(o));
  }

  serverPath(id: string, ...rest: PathKey[]): PathKey[] {
    return [...this.serversPrefix, id, ...rest];
  }

  /** `eks-mcp.timeout`, `eks-mcp.args[2]`, `gateway.name` */
  display(path: readonly PathKey[]): string {
    const rel =
      this.serversPrefix.length > 0 && path[0] === this.serversPrefix[0] && path.length > 1
        ? path.slice(1)
        : path;
    let out = '';
    for (const seg of rel) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
    return out;
  }

  /** The first alias whose anchor is not defined before it. */
  unresolvedAlias(): { name: string; line: number; column: number } | undefined {
    let found: { name: string; line: number; column: number } | undefined;
    visit(this.doc, {
      Alias: (_key, node) => {
        if (found !== undefined || !isAlias(node)) return visit.BREAK;
        if (node.resolve(this.doc) === undefined) {
          const pos = this.lines.linePos(node.range?.[0] ?? 0);
          found = { name: node.source, line: pos.line, column: pos.col };
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return found;
  }

  /** Whether the YAML text has a value at `path`. */
  has(path: readonly PathKey[]): boolean {
    return this.doc.hasIn(path);
  }

  /** Line and column of the value at `path` (or of its key), or of the nearest ancestor present. */
  locate(path: readonly PathKey[], opts: { key?: boolean } = {}): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let offset = 0;
    let lastPair: Pair | undefined;
    let found = true;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) {
          found = false;
          break;
        }
        lastPair = pair;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        lastPair = undefined;
        node = node.items[seg];
      } else {
        found = false;
        break;
      }
    }
    const keyNode = lastPair?.key as Node | undefined;
    if (found && !opts.key && (node as Node | undefined)?.range) offset = (node as Node).range?.[0] ?? 0;
    else if (keyNode?.range) offset = keyNode.range[0];
    else if ((node as Node | undefined)?.range) offset = (node as Node).range?.[0] ?? 0;
    const pos = this.lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  problem(
    path: readonly PathKey[],
    message: string,
    opts: { key?: boolean; severity?: Problem['severity'] } = {},
  ): Problem {
    const { line, column } = path.length === 0 ? { line: 1, column: 1 } : this.locate(path, opts);
    return {
      severity: opts.severity ?? 'error',
      file: this.file,
      line,
      column,
      path: this.display(path),
      message,
    };
  }

  /** Turns zod issues into problems; `base` is the doc path of the value that was parsed. */
  fromIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, base: readonly PathKey[]): Problem[] {
    const out: Problem[] = [];
    for (const iss of issues) {
      const rel = iss.path.filter((k): k is PathKey => typeof k !== 'symbol');
      const path = [...base, ...rel];
      if (iss.code === 'unrecognized_keys') {
        const allowed = allowedKeys(schema, rel);
        for (const key of iss.keys) {
          out.push(this.problem([...path, key], unknownKeyMessage(key, allowed), { key: true }));
        }
      } else if (iss.code === 'invalid_key') {
        const inner = iss.issues[0];
        out.push(this.problem(path, inner?.message ?? iss.message, { key: true }));
      } else if (iss.code === 'invalid_union' && iss.errors.length > 0 && iss.message === 'Invalid input') {
        out.push(this.problem(path, iss.errors[0]?.[0]?.message ?? iss.message));
      } else {
        const missing = iss.code === 'invalid_type' && iss.input === undefined;
        const message = missing ? `required; ${missingHint(rel.at(-1))}` : iss.message;
        out.push(this.problem(path, message, { key: missing }));
      }
    }
    return out;
  }

  /** Details of the duplicate key whose node starts at `offset`. */
  duplicateAt(offset: number): { key: string; firstLine?: number; isServer: boolean } | undefined {
    let result: { key: string; firstLine?: number; isServer: boolean } | undefined;
    const visit = (node: unknown, depth: number): void => {
      if (result !== undefined) return;
      if (isMap(node)) {
        const seen = new Map<string, number>();
        for (const pair of node.items) {
          const key = keyText(pair.key);
          const start = (pair.key as Node | null)?.range?.[0];
          if (key !== undefined && start !== undefined) {
            if (start === offset && seen.has(key)) {
              const serversMap = this.serversPrefix.length === 0 ? depth === 0 : depth === 1;
              result = { key, firstLine: this.lines.linePos(seen.get(key) ?? 0).line, isServer: serversMap };
              return;
            }
            if (!seen.has(key)) seen.set(key, start);
          }
          visit(pair.value, depth + 1);
        }
      } else if (isSeq(node)) {
        for (const item of node.items) visit(item, depth + 1);
      }
    };
    // serversPrefix is not known yet while YAML errors are read: decide from the top-level keys.
    const contents = this.doc.contents;
    if (isMap(contents))
      this.serversPrefix = contents.items.some((p) => keyText(p.key) === 'servers') ? ['servers'] : [];
    visit(contents, 0);
    return result;
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function missingHint(key: PathKey | undefined): string {
  switch (key) {
    case 'command':
      return 'the executable that starts the server on stdio, e.g. command: mcp-server-git';
    case 'servers':
      return 'a map of servers (id: definition)';
    case 'tool':
      return 'the name of a tool that is safe to call';
    default:
      return `add "${String(key)}"`;
  }
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const visible = allowed.filter((k) => !k.startsWith('$'));
  if (visible.length === 0) return `unknown key "${key}"`;
  const best = nearest(key, visible);
  return best !== undefined
    ? `unknown key "${key}"; did you mean "${best}"?`
    : `unknown key "${key}"; allowed: ${visible.join(', ')}`;
}

/** The keys an object schema allows at `path` below `schema`. */
function allowedKeys(schema: z.ZodType, path: readonly PathKey[]): string[] {
  let current: z.core.$ZodType | undefined = schema;
  for (const seg of [...path, undefined]) {
    // unwrap wrappers
    for (let guard = 0; current !== undefined && guard < 10; guard++) {
      const def = current._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (
        def.type === 'optional' ||
        def.type === 'default' ||
        def.type === 'nullable' ||
        def.type === 'prefault'
      )
        current = def.innerType;
      else if (def.type === 'pipe') current = def.in;
      else break;
    }
    if (current === undefined) return [];
    if (seg === undefined) break;
    const def = current._zod.def as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      valueType?: z.core.$ZodType;
      element?: z.core.$ZodType;
    };
    if (def.type === 'object') current = def.shape?.[String(seg)];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'array') current = def.element;
    else return [];
  }
  const def = current?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
