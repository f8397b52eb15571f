import picomatch from 'picomatch';
import type { ToolFilter } from './model.js';

/** Decides which tools a server serves and under which names. Patterns match the server's own tool names. */
export class ToolPolicy {
  private readonly allow: picomatch.Matcher | undefined;
  private readonly deny: picomatch.Matcher | undefined;
  private readonly toServed: ReadonlyMap<string, string>;
  private readonly toOriginal: ReadonlyMap<string, string>;

  constructor(filter: Partial<ToolFilter> = {}) {
    this.allow = filter.allow && filter.allow.length > 0 ? picomatch(filter.allow) : undefined;
    this.deny = filter.deny && filter.deny.length > 0 ? picomatch(filter.deny) : undefined;
    this.toServed = new Map(Object.entries(filter.rename ?? {}));
    this.toOriginal = new Map([...this.toServed].map(([original, served]) => [served, original]));
  }

  /** Whether the server's tool `original` is served. */
  serves(original: string): boolean {
    if (this.deny?.(original) === true) return false;
    return this.allow === undefined || this.allow(original);
  }

  /** The name a served tool has for clients. */
  servedName(original: string): string {
    return this.toServed.get(original) ?? original;
  }

  /**
   * The server's own name for a tool a client called, or undefined when that name is not served
   * (denied, not allowed, or renamed away).
   */
  originalName(served: string): string | undefined {
    const original = this.toOriginal.get(served) ?? served;
    if (original === served && this.toServed.has(served) && this.toServed.get(served) !== served)
      return undefined;
    return this.serves(original) ? original : undefined;
  }

  /** The pattern that denies `original`, or why it is not allowed; undefined when served. */
  whyNotServed(original: string, filter: Partial<ToolFilter>): string | undefined {
    if (this.serves(original)) return undefined;
    const denyBy = (filter.deny ?? []).find((p) => picomatch.isMatch(original, p));
    return denyBy !== undefined ? `denied by tools.deny "${denyBy}"` : 'not matched by tools.allow';
  }
}
