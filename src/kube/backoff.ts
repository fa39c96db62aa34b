// Jittered exponential backoff ("full jitter"): replicas restarting watches after an API
// server outage spread out instead of arriving together.

export interface Backoff {
  /** the next delay, growing with each call until reset */
  next(): number;
  reset(): void;
}

export function createBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    },
    reset() {
      attempt = 0;
    },
  };
}
