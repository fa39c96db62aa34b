// The endpoint fast path: EndpointSlices indexed per Service key (`ns/service`), with each
// Service port's merged endpoint list computed on first use and cached until one of that
// Service's slices changes. No route table is rebuilt for an endpoint change
// (ARCHITECTURE.md data flow); `version` tells pickers that something moved.

import { type Endpoint, endpointsForBackend, type ServiceBackend } from '../endpoints/service-endpoints.ts';
import type { EndpointSliceRecord, ObjectKey } from '../model/records.ts';
import type { EndpointView } from './live-state.ts';

export interface EndpointConditionCounts {
  /** distinct addresses that may take new requests */
  readonly ready: number;
  /** distinct addresses on their way out (may still finish in-flight requests) */
  readonly terminating: number;
}

interface ServiceEntry {
  readonly slices: Map<ObjectKey, EndpointSliceRecord>;
  /** per `servicePortName \0 targetPortNumber`; dropped whenever a slice of this Service changes */
  byPort: Map<string, readonly Endpoint[]>;
}

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

/** versions remembered by `servicesChangedSince`; an older question gets undefined */
const CHANGE_LOG_LENGTH = 1024;

function serviceKeyOf(slice: EndpointSliceRecord): string | undefined {
  return slice.serviceName ? `${slice.namespace}/${slice.serviceName}` : undefined;
}

export class EndpointIndex implements EndpointView {
  #services = new Map<string, ServiceEntry>();
  #version = 0;
  /** the Services touched by each of the last versions: entry i is version `#version - length + 1 + i` */
  #changeLog: (readonly string[])[] = [];

  get version(): number {
    return this.#version;
  }

  /**
   * Records that `previous` (if any) became `next` (if any); returns the Service keys whose
   * endpoints may have changed. A slice whose service-name label changed touches both.
   */
  replaceSlice(previous: EndpointSliceRecord | undefined, next: EndpointSliceRecord | undefined): string[] {
    const touched = new Set<string>();
    const previousService = previous ? serviceKeyOf(previous) : undefined;
    if (previous && previousService) {
      const entry = this.#services.get(previousService);
      if (entry?.slices.delete(previous.key)) {
        touched.add(previousService);
        if (entry.slices.size === 0) this.#services.delete(previousService);
        else entry.byPort = new Map();
      }
    }
    const nextService = next ? serviceKeyOf(next) : undefined;
    if (next && nextService) {
      let entry = this.#services.get(nextService);
      if (!entry) {
        entry = { slices: new Map(), byPort: new Map() };
        this.#services.set(nextService, entry);
      }
      entry.slices.set(next.key, next);
      entry.byPort = new Map();
      touched.add(nextService);
    }
    const keys = [...touched];
    if (keys.length > 0) {
      this.#version++;
      this.#changeLog.push(keys);
      // Trim in chunks, so a burst of thousands of slices costs no shift per slice.
      if (this.#changeLog.length > 2 * CHANGE_LOG_LENGTH) this.#changeLog = this.#changeLog.slice(-CHANGE_LOG_LENGTH);
    }
    return keys;
  }

  servicesChangedSince(version: number): ReadonlySet<string> | undefined {
    const missed = this.#version - version;
    if (missed < 0 || missed > this.#changeLog.length) return undefined;
    const services = new Set<string>();
    for (let index = this.#changeLog.length - missed; index < this.#changeLog.length; index++)
      for (const key of this.#changeLog[index] as readonly string[]) services.add(key);
    return services;
  }

  endpointsFor(backend: ServiceBackend): readonly Endpoint[] {
    const entry = this.#services.get(backend.serviceKey);
    if (!entry) return NO_ENDPOINTS;
    const cacheKey = `${backend.servicePortName}\u0000${backend.targetPortNumber ?? ''}`;
    let endpoints = entry.byPort.get(cacheKey);
    if (!endpoints) {
      endpoints = Object.freeze(endpointsForBackend(backend, [...entry.slices.values()]).map((e) => Object.freeze(e)));
      entry.byPort.set(cacheKey, endpoints);
    }
    return endpoints;
  }

  /** Addresses across all of a Service's slices, for the per-Service endpoint gauge. */
  conditionCounts(serviceKey: string): EndpointConditionCounts | undefined {
    const entry = this.#services.get(serviceKey);
    if (!entry) return undefined;
    const ready = new Set<string>();
    const terminating = new Set<string>();
    for (const slice of entry.slices.values()) {
      for (const endpoint of slice.endpoints) {
        for (const address of endpoint.addresses) {
          if (endpoint.terminating) terminating.add(address);
          else if (endpoint.ready) ready.add(address);
        }
      }
    }
    return { ready: ready.size, terminating: terminating.size };
  }
}
