// A steady load for the reliability tests: N workers, each sending one request at a time,
// bounded in count AND in time, plus the tallies every test prints. A worker's `send` records
// its own outcome; the loop only decides when to stop.

export interface LoadBounds {
  readonly workers: number;
  /** total requests across workers */
  readonly maxRequests: number;
  /** wall-clock bound for the whole run */
  readonly maxMs: number;
}

export interface LoadRun {
  /** requests started so far */
  readonly sent: () => number;
  /** asks every worker to stop after its current request */
  stop(): void;
  /** resolves when every worker has stopped (by `stop`, a bound, or `send` returning false) */
  readonly done: Promise<void>;
}

/**
 * `send(worker, seq)` performs one request; returning `false` ends that worker (a client that
 * was refused and goes elsewhere, as a load balancer's client would).
 */
export function startLoad(bounds: LoadBounds, send: (worker: number, seq: number) => Promise<boolean | void>): LoadRun {
  let sent = 0;
  let stopped = false;
  const deadline = Date.now() + bounds.maxMs;
  const worker = async (index: number): Promise<void> => {
    while (!stopped && sent < bounds.maxRequests && Date.now() < deadline) {
      const seq = sent++;
      if ((await send(index, seq)) === false) return;
    }
  };
  const done = Promise.all(Array.from({ length: bounds.workers }, (_, index) => worker(index))).then(() => {});
  return {
    sent: () => sent,
    stop: () => {
      stopped = true;
    },
    done,
  };
}

/** Counts by outcome label, kept with a few examples of each failure for the assertion message. */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, string[]>();

  add(outcome: string, example?: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
    if (example !== undefined) {
      const list = this.examples.get(outcome) ?? [];
      if (list.length < 5) list.push(example);
      this.examples.set(outcome, list);
    }
  }

  get(outcome: string): number {
    return this.counts.get(outcome) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const count of this.counts.values()) sum += count;
    return sum;
  }

  toString(): string {
    const parts = [...this.counts].map(([outcome, count]) => `${outcome}=${count}`);
    const examples = [...this.examples].map(([outcome, list]) => `${outcome}: ${list.join(' | ')}`);
    return [parts.join(' '), ...examples].join('\n');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short, stable label for a client-side error: its code, else its name. */
export function errorLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : typeof error;
}
