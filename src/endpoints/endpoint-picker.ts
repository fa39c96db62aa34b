// The picker contract: choose one endpoint for a new request from the endpoints that may take
// new requests. Pickers are pure in the ARCHITECTURE.md sense: no clock, no randomness, no
// I/O of their own. Time comes in as `nowMs` and a random source is injected.

import type { Endpoint, ServiceBackend } from './service-endpoints.ts';

export interface PickRequest {
  /** endpoints that may take new requests (`ready`), in a stable order */
  readonly candidates: readonly Endpoint[];
  /** the client address, for affinity */
  readonly clientIp: string;
  readonly nowMs: number;
  /** an endpoint to avoid: the one a retry is moving away from */
  readonly avoidId: string | undefined;
}

export interface EndpointPicker {
  /** `key` names the endpoint set (Service and port); undefined only when no candidate is usable */
  pick(key: string, request: PickRequest): Endpoint | undefined;
  /** a request to `endpointId` started (load-aware pickers count it) */
  onStart(endpointId: string): void;
  /** that request ended; `latencyMs` to the response headers, or to the failure */
  onEnd(endpointId: string, latencyMs: number, failed: boolean, nowMs: number): void;
  /** forgets state for endpoints no longer listed anywhere */
  retain(liveEndpointIds: ReadonlySet<string>): void;
}

export type LoadBalanceAlgorithm = 'round_robin' | 'ewma';

export const LOAD_BALANCE_ALGORITHMS: readonly LoadBalanceAlgorithm[] = ['round_robin', 'ewma'];

/** The key under which pickers keep per-set state: `ns/service:port`. */
export function endpointSetKey(backend: ServiceBackend): string {
  return `${backend.serviceKey}:${backend.servicePort}`;
}

const readyCache = new WeakMap<readonly Endpoint[], readonly Endpoint[]>();

/**
 * The endpoints that may take new requests (ROUTING.md section 6): `ready`, which already
 * excludes terminating ones. Cached per endpoint list, which the endpoint view keeps until
 * the Service's slices change.
 */
export function readyEndpoints(all: readonly Endpoint[]): readonly Endpoint[] {
  let ready = readyCache.get(all);
  if (ready === undefined) {
    ready = all.every((endpoint) => endpoint.ready) ? all : Object.freeze(all.filter((endpoint) => endpoint.ready));
    readyCache.set(all, ready);
  }
  return ready;
}
