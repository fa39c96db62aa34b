// Time as an injected dependency, so the debounce and rebuild logic can be driven by a
// manual clock in tests instead of real timers.

export type TimerHandle = unknown;

export interface Clock {
  /** monotonic milliseconds */
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/**
 * Real time. Timers are unref'd: a pending rebuild or rescan never keeps the process alive
 * on its own (the listeners do that).
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});
