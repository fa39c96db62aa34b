// Polling with a deadline: the only way e2e tests wait. A fixed sleep either
// wastes time or flakes; retrying the assertion itself until a deadline does
// neither, and on timeout reports the last real failure.
import { setTimeout as delay } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long; the last failure is rethrown with context. */
  readonly timeoutMs?: number;
  /** Pause between attempts. */
  readonly intervalMs?: number;
  /** What is being waited for, for the timeout message. */
  readonly description?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 200;

/**
 * Calls `attempt` until it returns without throwing, and returns its value.
 * Throws once the deadline has passed, with the last attempt's error as cause.
 */
export async function eventually<T>(attempt: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + intervalMs > deadline) {
        const what = options.description ?? 'condition';
        const last = error instanceof Error ? error.message : String(error);
        throw new Error(`timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}: ${last}`, {
          cause: error,
        });
      }
    }
    await delay(intervalMs);
  }
}
