/**
 * Secret values kept out of what leaves the process: logs, answers, error messages, status.
 *
 * The runtime learns the values when it resolves a server's `secrets:` (SSM, Secrets Manager, or
 * the developer's environment under `mcp-fleet dev`); every string that leaves through a
 * {@link Redactor} has each occurrence of a value replaced by `[redacted NAME]`. The value is
 * also looked for as it appears inside JSON text (escaped quotes, backslashes, control
 * characters), and inside JSON inside JSON, so a secret echoed inside a serialized document is
 * caught too.
 */

/** Shorter values are not redacted: they would match ordinary text (`1`, `true`, `dev`). */
export const MIN_REDACTED_LENGTH = 6;

/** How many levels of JSON-in-JSON a value is looked for in. */
const MAX_JSON_LEVELS = 4;

interface Entry {
  name: string;
  /** The forms the value is searched for in, most escaped (longest) first. */
  forms: string[];
}

export class Redactor {
  private readonly entries = new Map<string, Entry>();
  /** Longest value first, so a value that contains another is replaced whole. */
  private sorted: Entry[] = [];
  /** Names whose value is too short to redact (reported once, by name). */
  readonly tooShort = new Set<string>();

  /** Adds secret values by variable name. */
  add(secrets: Readonly<Record<string, string | undefined>>): void {
    for (const [name, value] of Object.entries(secrets)) {
      if (value === undefined || value === '') continue;
      if (value.length < MIN_REDACTED_LENGTH) {
        this.tooShort.add(name);
        continue;
      }
      // As it is, and as it reads inside JSON text, inside JSON text … (a tool's JSON answer in an
      // HTTP body is escaped twice).
      const forms = [value];
      for (let level = 0; level < MAX_JSON_LEVELS; level++) {
        const escaped = JSON.stringify(forms[forms.length - 1]).slice(1, -1);
        if (escaped === forms[forms.length - 1]) break;
        forms.push(escaped);
      }
      this.entries.set(value, { name, forms: forms.reverse() });
    }
    this.sorted = [...this.entries.values()].sort(
      (a, b) => (b.forms.at(-1)?.length ?? 0) - (a.forms.at(-1)?.length ?? 0),
    );
  }

  /** Whether there is anything to redact. */
  get active(): boolean {
    return this.entries.size > 0;
  }

  /** The text with every secret value replaced by `[redacted NAME]`. */
  redact(text: string): string {
    if (this.entries.size === 0 || text === '') return text;
    let out = text;
    for (const { name, forms } of this.sorted) {
      for (const form of forms) {
        if (out.includes(form)) out = out.split(form).join(`[redacted ${name}]`);
      }
    }
    return out;
  }

  /** A copy of a JSON-like value with every string (keys included) redacted; others as they are. */
  redactDeep<T>(value: T): T {
    if (this.entries.size === 0) return value;
    return this.walk(value, 0) as T;
  }

  /** An error with a redacted message (the same error when there is nothing to hide). */
  redactError(err: unknown): unknown {
    if (this.entries.size === 0 || !(err instanceof Error)) return err;
    const message = this.redact(err.message);
    if (message === err.message && (err.stack === undefined || this.redact(err.stack) === err.stack))
      return err;
    err.message = message;
    if (err.stack !== undefined) err.stack = this.redact(err.stack);
    return err;
  }

  private walk(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object' || depth > 200) return value;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, depth + 1));
    if (value instanceof Error) return this.redactError(value);
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.walk(v, depth + 1);
    return out;
  }
}
