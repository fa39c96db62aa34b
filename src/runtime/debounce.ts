// Debounce with a hard maximum delay (Contour's rebuild hold-off): the action runs once a
// burst of requests has been quiet for `holdoffMs`, but never later than `maxDelayMs` after
// the first request of the burst, so a steady trickle of changes cannot starve it.
// One timer at a time: a request inside the hold-off only moves the due time, and the timer
// re-arms itself for what is left when it fires early.
// A request may ask for a shorter hold-off than the default (the manifest source does, for an
// edit it knows to be safe to read early); a burst waits for the longest any of its requests asked.

import type { Clock, TimerHandle } from './clock.ts';

export interface DebounceOptions {
  readonly holdoffMs: number;
  readonly maxDelayMs: number;
  readonly clock: Clock;
  /** runs once per burst; errors are the caller's to catch (the debouncer stays usable) */
  readonly run: () => void;
}

export interface Debouncer {
  /** something changed: run after the hold-off, or `holdoffMs` if given (or the hard maximum) */
  request(holdoffMs?: number): void;
  /** run now if a request is pending */
  flush(): void;
  /** forget any pending request and stop the timer */
  cancel(): void;
  readonly pending: boolean;
}

export function createDebouncer(options: DebounceOptions): Debouncer {
  const { holdoffMs, maxDelayMs, clock, run } = options;
  let firstRequestAt: number | undefined;
  let dueAt = 0;
  let timer: TimerHandle | undefined;

  function stopTimer(): void {
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
  }

  function fire(): void {
    if (firstRequestAt === undefined) return;
    firstRequestAt = undefined;
    stopTimer();
    run();
  }

  function onTimer(): void {
    timer = undefined;
    if (firstRequestAt === undefined) return;
    const remainingMs = dueAt - clock.now();
    if (remainingMs > 0) timer = clock.setTimer(onTimer, remainingMs);
    else fire();
  }

  return {
    request(requestHoldoffMs = holdoffMs) {
      const now = clock.now();
      const wanted = now + requestHoldoffMs;
      if (firstRequestAt === undefined) firstRequestAt = now;
      else if (dueAt > wanted) return; // an earlier request of this burst asked for longer
      dueAt = Math.min(wanted, firstRequestAt + maxDelayMs);
      if (timer === undefined) timer = clock.setTimer(onTimer, Math.max(0, dueAt - now));
    },
    flush: fire,
    cancel() {
      firstRequestAt = undefined;
      stopTimer();
    },
    get pending() {
      return firstRequestAt !== undefined;
    },
  };
}
