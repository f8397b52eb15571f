import * as z from 'zod';
import { describeValue } from './describe.js';

/*
 * servers.yaml: `policy:` (AgentCore Policy, Cedar) and `tags:` (cost and ownership tags). Kept
 * apart from schema.ts so the policy and tag rules live together.
 */

const got = (iss: { input?: unknown }): string => describeValue(iss.input);

/** AgentCore policy names (and so the keys of `policy.policies`). */
export const POLICY_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/** AWS tags: keys 1–128, values 0–256 characters of letters, digits, spaces and _ . : / = + - @. */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;
export const TAGS_PER_RESOURCE_MAX = 50;
export const TAG_TEXT_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** The tags mcp-fleet sets on every resource it creates. */
export const FLEET_TAG = 'mcp-fleet:stack';
export const SERVER_TAG = 'mcp-fleet:server';

const tagKey = z
  .string()
  .min(1, { error: 'a tag key is empty; use 1–128 characters' })
  .max(TAG_KEY_MAX, {
    error: (iss) =>
      `tag key is ${String((iss.input as string).length)} characters; AWS allows at most ${TAG_KEY_MAX}`,
  })
  .regex(TAG_TEXT_PATTERN, {
    error: (iss) =>
      `tag key ${JSON.stringify(iss.input)} has characters AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @`,
  })
  .refine((k) => !k.toLowerCase().startsWith('aws:'), {
    error: (iss) =>
      `tag key ${JSON.stringify(iss.input)} starts with "aws:", which AWS reserves; choose another prefix`,
  })
  .refine((k) => !k.startsWith('mcp-fleet:'), {
    error: (iss) =>
      `tag key ${JSON.stringify(iss.input)} starts with "mcp-fleet:", which mcp-fleet sets itself (${FLEET_TAG}, ${SERVER_TAG}); choose another prefix`,
  });

const tagValue = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (iss) => `expected a tag value as text, got ${got(iss)}`,
  })
  .transform(String)
  .pipe(
    z
      .string()
      .max(TAG_VALUE_MAX, {
        error: (iss) =>
          `tag value is ${String((iss.input as string).length)} characters; AWS allows at most ${TAG_VALUE_MAX}`,
      })
      .regex(TAG_TEXT_PATTERN, {
        error: (iss) =>
          `tag value ${JSON.stringify(iss.input)} has characters AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @`,
      }),
  );

export const tagsSchema = z
  .record(tagKey, tagValue, { error: (iss) => `expected a map of tags (key: value), got ${got(iss)}` })
  .describe(
    "Cost and ownership tags (key: value) on every AWS resource; fleet-level tags are merged with each server's (server wins)",
  );

const policyFile = z
  .strictObject(
    {
      file: z
        .string({ error: (iss) => `expected a file name as text, got ${got(iss)}` })
        .min(1, { error: 'the file name is empty' })
        .regex(/\.cedar$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a .cedar file` })
        .describe('A .cedar file, relative to servers.yaml; each statement becomes a policy (<name>_<n>)'),
    },
    { error: (iss) => `expected Cedar text or { file: <name>.cedar }, got ${got(iss)}` },
  )
  .describe('Policies from a .cedar file next to the config');

export const policySchema = z
  .strictObject(
    {
      mode: z
        .enum(['log-only', 'enforce'], {
          error: (iss) =>
            `${typeof iss.input === 'string' ? JSON.stringify(iss.input) : got(iss)} is not a valid policy mode; use "log-only" or "enforce"`,
        })
        .optional()
        .describe(
          'log-only (default): decisions are logged, nothing is refused; enforce: denied calls are refused and tools/list shows only allowed tools',
        ),
      policies: z
        .record(
          z.string().regex(POLICY_NAME_PATTERN, {
            error: (iss) =>
              `${JSON.stringify(iss.input)} is not a valid AgentCore policy name; start with a letter, then letters, digits and _, at most 48`,
          }),
          z.union([z.string({ error: (iss) => `expected Cedar text, got ${got(iss)}` }), policyFile], {
            error: (iss) => `expected Cedar text or { file: <name>.cedar }, got ${got(iss)}`,
          }),
          { error: (iss) => `expected a map of policies (name: Cedar text or { file }), got ${got(iss)}` },
        )
        .describe(
          'Cedar policies by name (AgentCore::OAuthUser / IamEntity, AgentCore::Action::"<target>___<tool>", AgentCore::Gateway; context.input = the arguments)',
        ),
    },
    { error: (iss) => `expected a map with mode and policies, got ${got(iss)}` },
  )
  .describe(
    'AgentCore Policy: who may call which tool (Cedar), enforced by the gateway and by mcp-fleet dev',
  );

export type RawPolicy = z.output<typeof policySchema>;
