/**
 * Who calls the dev gateway: its inbound auth, as AgentCore's authorizer settles it before
 * anything else runs. A static dev token per principal (`--principals FILE`); without the file,
 * every caller is one OAuth user with no claims.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { Principal } from '../../config/cedar.js';
import type { Caller } from '../../protocol/bridge.js';

/** Without `--principals`, every caller is this OAuth user, with no claims. */
export const DEV_PRINCIPAL: Principal = { kind: 'oauth', id: 'dev', claims: {} };

/** The JSON-RPC error code of a request without a known principal. */
export const UNAUTHORIZED = -32001;

/**
 * Reads a principals file: a map from bearer token to the caller, as JSON or YAML.
 * `{ "<token>": { sub: alice, role: reader, … } }` is an OAuth user (the claims, `sub` its id);
 * `{ "<token>": { iam: "arn:aws:iam::…", sourceIdentity: … } }` an IAM identity (the source
 * identity optional).
 */
export async function loadPrincipals(file: string): Promise<Map<string, Principal>> {
  let data: unknown;
  try {
    data = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`--principals ${file}: ${(err as Error).message}`, { cause: err });
  }
  return principalsFrom(data, file);
}

export function principalsFrom(data: unknown, where: string): Map<string, Principal> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(
      `${where}: expected a map of bearer token → claims (e.g. { reader-token: { sub: alice, role: reader } })`,
    );
  }
  const out = new Map<string, Principal>();
  for (const [token, value] of Object.entries(data as Record<string, unknown>)) {
    const shown = `${token.slice(0, 4)}…`;
    if (token.length < 8)
      throw new Error(`${where}: token ${shown} is shorter than 8 characters; use a longer one`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${where}: the entry of token ${shown} is not a map of claims`);
    }
    const claims = value as Record<string, unknown>;
    if (typeof claims['iam'] === 'string') {
      const source = claims['sourceIdentity'];
      if (source !== undefined && typeof source !== 'string')
        throw new Error(`${where}: the sourceIdentity of token ${shown} is not text`);
      out.set(token, {
        kind: 'iam',
        arn: claims['iam'],
        ...(source === undefined ? {} : { sourceIdentity: source }),
      });
      continue;
    }
    if (typeof claims['sub'] !== 'string' || claims['sub'] === '') {
      throw new Error(
        `${where}: the entry of token ${shown} has no "sub" claim (the principal's id) or "iam" ARN`,
      );
    }
    out.set(token, { kind: 'oauth', id: claims['sub'], claims });
  }
  return out;
}

/** The caller's identity from its `Authorization: Bearer` header, or why it has none. */
export function identify(
  headers: Readonly<Record<string, string>>,
  principals: ReadonlyMap<string, Principal> | undefined,
): Caller['principal'] {
  if (principals === undefined) return { principal: DEV_PRINCIPAL };
  const auth = headers['authorization'];
  const m = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m?.[1]) {
    return { error: 'no principal: send Authorization: Bearer <token> with a token from --principals' };
  }
  const p = principals.get(m[1]);
  return p === undefined ? { error: 'the bearer token is not one of --principals' } : { principal: p };
}
