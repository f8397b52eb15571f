/**
 * Time, injectable: what reads the time or waits for it takes a {@link Clock}, so that deadline
 * arithmetic and ordering can be driven in process (a test's manual clock), and the one
 * {@link withDeadline} every bounded wait goes through.
 */

/** A timer a clock started (opaque to its users). */
export interface ClockTimer {
  /** Lets the process exit while this timer is pending (system clock only). */
  unref?(): void;
}

export interface Clock {
  /** Wall time, epoch ms: deadlines. */
  now(): number;
  /** Monotonic time, ms from an arbitrary origin: durations. */
  monotonic(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

/** The machine's clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => {
    clearTimeout(timer as NodeJS.Timeout);
  },
};

/** What {@link withDeadline} answers when the deadline came first. */
export const EXPIRED: unique symbol = Symbol('expired');
export type Expired = typeof EXPIRED;

export interface DeadlineOptions {
  clock?: Clock;
  /** The pending timer does not keep the process alive (a wait nobody must see through). */
  unref?: boolean;
}

/**
 * `work`'s value, or {@link EXPIRED} when `deadline` (epoch ms, on the clock's `now`) passes first.
 * The timer is cleared either way; `work` is not cancelled (the caller decides what expiry means:
 * kill a process, give up a start, answer a timeout). A rejection of `work` before the deadline
 * rejects.
 */
export function withDeadline<T>(
  work: Promise<T>,
  deadline: number,
  opts: DeadlineOptions = {},
): Promise<T | Expired> {
  const clock = opts.clock ?? systemClock;
  return new Promise<T | Expired>((resolve, reject) => {
    const timer = clock.setTimeout(
      () => {
        resolve(EXPIRED);
      },
      Math.max(0, deadline - clock.now()),
    );
    if (opts.unref === true) timer.unref?.();
    work.then(resolve, reject).finally(() => {
      clock.clearTimeout(timer);
    });
  });
}

/** {@link withDeadline} with a duration instead of a deadline. */
export function within<T>(work: Promise<T>, ms: number, opts: DeadlineOptions = {}): Promise<T | Expired> {
  return withDeadline(work, (opts.clock ?? systemClock).now() + ms, opts);
}
