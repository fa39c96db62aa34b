// `load-balance: ewma`: peak-EWMA latency times outstanding requests, compared between two
// endpoints drawn at random (power of two choices), as in Finagle and linkerd. A slow or
// failing endpoint's cost decays back toward zero while it is not used, so it is probed again.

import type { EndpointPicker, PickRequest } from './endpoint-picker.ts';
import type { Endpoint } from './service-endpoints.ts';

export interface EwmaPickerOptions {
  /** the EWMA's time constant: how fast an old observation loses weight (ingress-nginx: 10 s) */
  readonly decayMs?: number;
  /** the latency a failed request counts as, so a refusing endpoint stops being chosen */
  readonly failurePenaltyMs?: number;
  /** uniform in [0, 1); injected so tests are deterministic */
  readonly random?: () => number;
}

interface EndpointStats {
  /** peak-EWMA latency in ms; 0 until the first observation */
  cost: number;
  /** when `cost` was last updated; undefined until the first observation */
  stampMs: number | undefined;
  pending: number;
}

export const DEFAULT_EWMA_DECAY_MS = 10_000;
export const DEFAULT_EWMA_FAILURE_PENALTY_MS = 1_000;
/** Finagle's rule: an endpoint never measured but already busy waits behind every measured one. */
const UNMEASURED_BUSY_PENALTY = 1e9;

export function createEwmaPicker(options: EwmaPickerOptions = {}): EndpointPicker {
  const decayMs = options.decayMs ?? DEFAULT_EWMA_DECAY_MS;
  const failurePenaltyMs = options.failurePenaltyMs ?? DEFAULT_EWMA_FAILURE_PENALTY_MS;
  const random = options.random ?? Math.random;
  const stats = new Map<string, EndpointStats>();

  function decayed(entry: EndpointStats, nowMs: number): number {
    const elapsed = Math.max(0, nowMs - (entry.stampMs ?? nowMs));
    return entry.cost * Math.exp(-elapsed / decayMs);
  }

  function score(endpoint: Endpoint, nowMs: number): number {
    const entry = stats.get(endpoint.id);
    if (entry === undefined) return 0;
    if (entry.stampMs === undefined) return entry.pending > 0 ? UNMEASURED_BUSY_PENALTY + entry.pending : 0;
    return decayed(entry, nowMs) * (entry.pending + 1);
  }

  function better(a: Endpoint, b: Endpoint, nowMs: number): Endpoint {
    return score(b, nowMs) < score(a, nowMs) ? b : a;
  }

  return {
    pick(_key: string, { candidates, avoidId, nowMs }: PickRequest): Endpoint | undefined {
      const usable = avoidId === undefined ? candidates : candidates.filter((endpoint) => endpoint.id !== avoidId);
      const count = usable.length;
      if (count <= 1) return usable[0];
      if (count === 2) return better(usable[0] as Endpoint, usable[1] as Endpoint, nowMs);
      const first = Math.min(count - 1, Math.floor(random() * count));
      // A second, distinct index: draw among the other count - 1 and step over the first.
      let second = Math.min(count - 2, Math.floor(random() * (count - 1)));
      if (second >= first) second++;
      return better(usable[first] as Endpoint, usable[second] as Endpoint, nowMs);
    },
    onStart(endpointId: string): void {
      const entry = stats.get(endpointId);
      if (entry) entry.pending++;
      else stats.set(endpointId, { cost: 0, stampMs: undefined, pending: 1 });
    },
    onEnd(endpointId: string, latencyMs: number, failed: boolean, nowMs: number): void {
      const entry = stats.get(endpointId);
      if (entry === undefined) return;
      entry.pending = Math.max(0, entry.pending - 1);
      const rtt = failed ? Math.max(latencyMs, failurePenaltyMs) : Math.max(0, latencyMs);
      // Time-weighted: an observation's weight grows with the time since the last one.
      const weight = entry.stampMs === undefined ? 0 : Math.exp(-Math.max(0, nowMs - entry.stampMs) / decayMs);
      const current = entry.cost * weight;
      // Peak sensitivity: a slower observation is believed at once, a faster one gradually.
      entry.cost = rtt > current ? rtt : current + rtt * (1 - weight);
      entry.stampMs = nowMs;
    },
    retain(liveEndpointIds: ReadonlySet<string>): void {
      for (const [id, entry] of stats) {
        if (!liveEndpointIds.has(id) && entry.pending === 0) stats.delete(id);
      }
    },
  };
}
