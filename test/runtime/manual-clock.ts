// A clock that only moves when the test says so; timers fire in due order during `advance`.

import type { Clock, TimerHandle } from '../../src/runtime/clock.ts';

interface PendingTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

export class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  #timers: PendingTimer[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.#nextId++, dueAt: this.#now + Math.max(0, delayMs), callback };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      const next = this.#timers.reduce<PendingTimer | undefined>(
        (earliest, timer) => (!earliest || timer.dueAt < earliest.dueAt ? timer : earliest),
        undefined,
      );
      if (!next || next.dueAt > until) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = next.dueAt;
      next.callback();
    }
    this.#now = until;
  }
}
