import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { Document, isMap, type YAMLMap } from 'yaml';
import { SERVER_ID_MAX, SERVER_ID_PATTERN } from './limits.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/** The MCP client config formats `import` reads. */
export type ClientFormat = 'mcpServers' | 'vscode';

export interface ImportNote {
  /** The entry's name in the client file. */
  name: string;
  message: string;
}

export interface ImportResult {
  format: ClientFormat;
  /** The servers.yaml text (empty when nothing could be converted). */
  yaml: string;
  /** client name → server id, for the entries converted. */
  converted: { name: string; id: string }[];
  /** Entries that could not be converted, with the reason. */
  skipped: ImportNote[];
  /** Converted entries with something the user must look at. */
  notes: ImportNote[];
}

/** Thrown when the input is not a client config at all. */
export class ImportError extends FleetError {
  constructor(message: string) {
    super(FLEET_ERROR.importFailed, message);
    this.name = 'ImportError';
  }
}

const VARIABLE = /\$\{([A-Za-z]+)(?::([^}]*))?\}/g;

/**
 * Converts an MCP client config — Claude Desktop / Cursor / Windsurf (`mcpServers`) or VS Code
 * `.vscode/mcp.json` (`servers`) — into servers.yaml text, keeping command, args and env.
 */
export function importClientConfig(
  text: string,
  options: { file?: string; schemaComment?: string } = {},
): ImportResult {
  const file = options.file ?? 'the input';
  const { format, entries } = clientEntries(text, file);
  const result: ImportResult = { format, yaml: '', converted: [], skipped: [], notes: [] };
  const doc = new Document({ servers: {} });
  const servers = doc.get('servers') as YAMLMap;
  const usedIds = new Set<string>();

  for (const [name, raw] of Object.entries(entries)) {
    if (!isObject(raw)) {
      result.skipped.push({ name, message: 'not an object' });
      continue;
    }
    const skip = whyNotImported(raw);
    if (skip !== undefined) {
      result.skipped.push({ name, message: skip });
      continue;
    }
    const id = uniqueId(toServerId(name), usedIds);
    usedIds.add(id);
    const { server, secretHints, notes } = toServer(name, id, raw);
    servers.set(id, doc.createNode(server));
    const node = servers.get(id, true) as unknown;
    if (secretHints.length > 0 && isMap(node)) node.comment = secretsComment(id, secretHints);
    result.converted.push({ name, id });
    for (const message of notes) result.notes.push({ name, message });
  }

  if (result.converted.length > 0) {
    const header = [
      options.schemaComment,
      `Imported from ${file} by \`mcp-fleet import\`: ${result.converted.length} server(s).`,
      ...result.skipped.map((s) => `Not imported: ${s.name}: ${s.message}`),
    ].filter((l): l is string => l !== undefined);
    doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
    result.yaml = doc.toString({ lineWidth: 0 });
  }
  return result;
}

/** The client file's format and its entries (name → definition); anything else is an ImportError. */
function clientEntries(
  text: string,
  file: string,
): { format: ClientFormat; entries: Record<string, unknown> } {
  const errors: ParseError[] = [];
  const data: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const first = errors[0] as ParseError;
    const { line, column } = lineColumn(text, first.offset);
    throw new ImportError(`${file}:${line}:${column} not valid JSON: ${printParseErrorCode(first.error)}`);
  }
  if (!isObject(data))
    throw new ImportError(`${file}: expected a JSON object with "mcpServers" or "servers"`);
  if (isObject(data['mcpServers'])) return { format: 'mcpServers', entries: data['mcpServers'] };
  if (isObject(data['servers'])) return { format: 'vscode', entries: data['servers'] };
  throw new ImportError(
    `${file}: no "mcpServers" (Claude Desktop, Cursor) or "servers" (VS Code mcp.json) object found; nothing to import`,
  );
}

/** Why a client entry cannot become a stdio server of the fleet, if it cannot. */
function whyNotImported(raw: Record<string, unknown>): string | undefined {
  const url =
    typeof raw['url'] === 'string'
      ? raw['url']
      : typeof raw['serverUrl'] === 'string'
        ? raw['serverUrl']
        : undefined;
  const type = typeof raw['type'] === 'string' ? raw['type'] : undefined;
  if (url !== undefined || (type !== undefined && type !== 'stdio')) {
    return (
      `remote server (${type ?? 'url'}${url !== undefined ? ` ${url}` : ''}): mcp-fleet hosts stdio servers; ` +
      `to put it behind the gateway anyway, run the PyPI mcp-proxy as its command: ` +
      `command: mcp-proxy, args: [--transport, streamablehttp, ${url ?? 'URL'}]`
    );
  }
  if (typeof raw['command'] !== 'string' || raw['command'] === '') return 'no "command": nothing to start';
  return undefined;
}

/**
 * A client entry as a server of servers.yaml (name, command, args, env, cwd, enabled), the env
 * keys that should be secrets, and the notes the user must look at, in the entry's order.
 */
function toServer(
  name: string,
  id: string,
  raw: Record<string, unknown>,
): { server: Record<string, unknown>; secretHints: string[]; notes: string[] } {
  const notes: string[] = [];
  if (id !== name)
    notes.push(`renamed to "${id}" (server ids use letters, digits, '-' and '_', at most ${SERVER_ID_MAX})`);

  const server: Record<string, unknown> = { name, command: raw['command'] };
  const args = Array.isArray(raw['args']) ? raw['args'].map(String) : [];
  if (args.length > 0) server['args'] = args;
  for (const arg of args) {
    for (const m of arg.matchAll(VARIABLE))
      notes.push(
        `argument "${arg}" uses \${${m[1] ?? ''}${m[2] ? `:${m[2]}` : ''}}; replace it with a value`,
      );
  }

  const { env, secretHints, notes: envNotes } = clientEnv(raw['env']);
  notes.push(...envNotes);
  if (Object.keys(env).length > 0) server['env'] = env;
  if (typeof raw['cwd'] === 'string') server['cwd'] = raw['cwd'];
  if (raw['disabled'] === true) server['enabled'] = false;
  if (typeof raw['envFile'] === 'string')
    notes.push(`envFile "${raw['envFile']}" is not read; copy the variables it sets into env or secrets`);
  return { server, secretHints, notes };
}

/**
 * The client's env, without the values it fills from `${input:…}` or `${env:…}`: those belong in
 * SSM Parameter Store or Secrets Manager, so they become hints rather than copies.
 */
function clientEnv(raw: unknown): { env: Record<string, string>; secretHints: string[]; notes: string[] } {
  const env: Record<string, string> = {};
  const secretHints: string[] = [];
  const notes: string[] = [];
  if (!isObject(raw)) return { env, secretHints, notes };
  for (const [key, value] of Object.entries(raw)) {
    const str = String(value);
    const variables = [...str.matchAll(VARIABLE)];
    if (variables.some((m) => m[1] === 'input' || m[1] === 'env')) {
      secretHints.push(key);
      notes.push(
        `env ${key} comes from ${variables.map((m) => m[0]).join(', ')} in the client; not copied: keep it in SSM Parameter Store or Secrets Manager and add it under secrets:`,
      );
    } else {
      env[key] = str;
    }
  }
  return { env, secretHints, notes };
}

/** The commented-out `secrets:` a server's env hints suggest. */
function secretsComment(id: string, secretHints: readonly string[]): string {
  return secretHints
    .map((k) => ` secrets:\n   ${k}: { ssm: /mcp/${id}/${k.toLowerCase().replace(/_/g, '-')} }`)
    .join('\n');
}

/** A valid server id for a client entry name: lower-case, other characters turned into '-'. */
export function toServerId(name: string): string {
  const id = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, SERVER_ID_MAX);
  return SERVER_ID_PATTERN.test(id) ? id : 'server';
}

function uniqueId(id: string, used: ReadonlySet<string>): string {
  if (!used.has(id)) return id;
  for (let i = 2; ; i++) {
    const candidate = `${id.slice(0, SERVER_ID_MAX - String(i).length - 1)}-${i}`;
    if (!used.has(candidate)) return candidate;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}
