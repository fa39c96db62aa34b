// Certificates expire (and start) on their own schedule, not when an object changes. Each
// table carries the next moment its TLS binding would decide differently; a rebuild is
// requested just after it, so an expired certificate's diagnostic, Event and fallback come
// when it expires instead of at whatever build happens next.

import type { RouteTable } from '../routing/route-table.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { systemClock } from './clock.ts';

export interface ValidityRebuildTarget {
  onSwap(listener: (swap: { readonly table: RouteTable }) => void): void;
  requestRebuild(): void;
}

export interface ValidityRebuildOptions {
  /** epoch milliseconds (certificate validity is wall-clock time) */
  readonly wallClock?: () => number;
  /** timers only; its now() is not used */
  readonly clock?: Clock;
}

/** After the moment itself, so the build sees `notAfter <= now` (validity ends are inclusive). */
const MARGIN_MS = 1_000;
/** setTimeout's limit; a later moment is waited for in steps (a wasted rebuild per 24 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function rebuildWhenValidityChanges(target: ValidityRebuildTarget, options: ValidityRebuildOptions = {}): void {
  const wallClock = options.wallClock ?? Date.now;
  const clock = options.clock ?? systemClock;
  let timer: TimerHandle | undefined;
  target.onSwap(({ table }) => {
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    const at = table.certificates?.nextValidityChangeMs;
    if (at === undefined) return;
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, at - wallClock()) + MARGIN_MS);
    timer = clock.setTimer(() => {
      timer = undefined;
      target.requestRebuild();
    }, delayMs);
  });
}
