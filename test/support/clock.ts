/**
 * A clock driven by the test: time moves only when {@link ManualClock.advance} moves it, and the
 * timers it passes fire in order, each followed by whatever their callbacks set off (promise
 * reactions and `setImmediate` work), as a real clock would let it run.
 */
import type { Clock, ClockTimer } from '../../src/platform/time.js';

interface Pending extends ClockTimer {
  at: number;
  seq: number;
  callback: () => void;
}

/** Lets every promise reaction and `setImmediate` callback queued so far run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock {
  private mono = 0;
  private seq = 0;
  private readonly timers = new Set<Pending>();

  constructor(private readonly epoch = Date.UTC(2026, 11, 2, 12, 0, 0)) {}

  now(): number {
    return this.epoch + this.mono;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer: Pending = { at: this.mono + Math.max(0, ms), seq: this.seq++, callback };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: ClockTimer): void {
    this.timers.delete(timer as Pending);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing the timers that come due, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    await settle();
    for (;;) {
      const next = [...this.timers]
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.timers.delete(next);
      this.mono = next.at;
      next.callback();
      await settle();
    }
    this.mono = target;
    await settle();
  }
}
