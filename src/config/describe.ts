import { closest, distance } from 'fastest-levenshtein';

/** Short, readable descriptions of YAML values for error messages. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (typeof value === 'string') return `"${truncate(value, 60)}" (text)`;
  if (typeof value === 'number') return `${value} (a number)`;
  if (typeof value === 'boolean') return `${value} (true/false)`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return typeof value;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** "a", "a or b", "a, b or c" */
export function oneOf(values: readonly (string | number)[]): string {
  const quoted = values.map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1) ?? ''}`;
}

/** The allowed value a mistyped one most likely meant (case aside, a few letters off), if any. */
export function nearest(value: string, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0) return undefined;
  const best = closest(
    value.toLowerCase(),
    allowed.map((a) => a.toLowerCase()),
  );
  const index = allowed.findIndex((a) => a.toLowerCase() === best);
  const near = distance(value.toLowerCase(), best) <= Math.max(2, Math.floor(best.length / 3));
  return near ? allowed[index] : undefined;
}
