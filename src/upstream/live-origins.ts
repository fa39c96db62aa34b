// The origins some backend of the current table can still reach: every endpoint listed for a
// Service port in any condition (a terminating endpoint keeps its pool until it is gone, so
// its in-flight requests finish), plus ExternalName targets and `service-upstream` ClusterIPs, for
// route, canary, default and `default-backend` annotation backends alike. Pools outside this set close.

import type { ServiceBackend } from '../endpoints/service-endpoints.ts';
import type { ResolvedBackend, RouteTable } from '../routing/route-table.ts';
import type { EndpointView } from '../runtime/live-state.ts';
import { poolKeyOf, upstreamsOf } from './pool-registry.ts';

/** Every distinct backend object the table can answer with. */
export function collectBackends(table: RouteTable): Set<ResolvedBackend> {
  const backends = new Set<ResolvedBackend>();
  const hostEntries = [...table.exactHosts.values(), ...table.wildcardHosts.values()];
  if (table.hostless) hostEntries.push(table.hostless);
  for (const entry of hostEntries) {
    for (const route of entry.routes) {
      backends.add(route.backend);
      if (route.canary) backends.add(route.canary.backend);
      // `default-backend`: error pages and the no-endpoint fallback
      if (route.attributes.defaultBackend) backends.add(route.attributes.defaultBackend);
    }
    if (entry.defaultBackend) backends.add(entry.defaultBackend.backend);
  }
  if (table.catchAll) backends.add(table.catchAll.backend);
  return backends;
}

export interface LiveEndpoints {
  /** pool keys (`poolKeyOf`): one per endpoint and protocol (two for AUTO_HTTP), likewise per ExternalName or ClusterIP */
  readonly origins: Set<string>;
  /** `ip:port` ids, for picker state */
  readonly endpointIds: Set<string>;
}

export function collectLiveEndpoints(table: RouteTable, endpoints: EndpointView): LiveEndpoints {
  const origins = new Set<string>();
  const endpointIds = new Set<string>();
  for (const backend of collectBackends(table)) {
    if (backend.kind === 'service') {
      for (const endpoint of endpoints.endpointsFor(backend)) {
        endpointIds.add(endpoint.id);
        for (const upstream of upstreamsOf(backend)) origins.add(poolKeyOf(endpoint.address, endpoint.port, upstream));
      }
    } else if (backend.kind === 'external-name') {
      for (const upstream of upstreamsOf(backend)) origins.add(poolKeyOf(backend.hostname, backend.port, upstream));
    } else if (backend.kind === 'cluster-ip') {
      for (const upstream of upstreamsOf(backend)) origins.add(poolKeyOf(backend.address, backend.port, upstream));
    }
  }
  return { origins, endpointIds };
}

/** A multiset of strings that keeps the set of its members for `has` lookups. */
class CountedSet {
  readonly members = new Set<string>();
  readonly #counts = new Map<string, number>();

  add(value: string): void {
    const count = this.#counts.get(value) ?? 0;
    this.#counts.set(value, count + 1);
    if (count === 0) this.members.add(value);
  }

  remove(value: string): void {
    const count = this.#counts.get(value) ?? 0;
    if (count > 1) {
      this.#counts.set(value, count - 1);
      return;
    }
    this.#counts.delete(value);
    this.members.delete(value);
  }
}

/** what one Service's endpoints add to the live sets, to take back when they change */
interface ServiceShare {
  readonly origins: string[];
  readonly endpointIds: string[];
}

/**
 * `collectLiveEndpoints`, kept up to date at the cost of what changed: a new table is walked
 * whole, but when only endpoints moved (and the view says which Services) only those Services'
 * backends are looked at again. At 10,000 Services the full walk visits 20,000 backends and
 * their endpoints on every EndpointSlice change.
 */
export class LiveEndpointTracker {
  #table: RouteTable | undefined;
  #view: EndpointView | undefined;
  #version = -1;
  #origins = new CountedSet();
  #endpointIds = new CountedSet();
  /** the table's Service backends, by Service key */
  #backendsByService = new Map<string, ServiceBackend[]>();
  #shares = new Map<string, ServiceShare>();

  /** Brings the live sets up to `table` and `endpoints` and returns them (the same as `collectLiveEndpoints`). */
  update(table: RouteTable, endpoints: EndpointView): LiveEndpoints {
    const changed =
      table === this.#table && endpoints === this.#view ? endpoints.servicesChangedSince?.(this.#version) : undefined;
    if (changed === undefined) this.#rebuild(table, endpoints);
    else for (const serviceKey of changed) this.#refreshService(serviceKey, endpoints);
    this.#table = table;
    this.#view = endpoints;
    this.#version = endpoints.version;
    return { origins: this.#origins.members, endpointIds: this.#endpointIds.members };
  }

  #rebuild(table: RouteTable, endpoints: EndpointView): void {
    this.#origins = new CountedSet();
    this.#endpointIds = new CountedSet();
    this.#backendsByService = new Map();
    this.#shares = new Map();
    for (const backend of collectBackends(table)) {
      if (backend.kind === 'service') {
        const list = this.#backendsByService.get(backend.serviceKey);
        if (list === undefined) this.#backendsByService.set(backend.serviceKey, [backend]);
        else list.push(backend);
      } else if (backend.kind === 'external-name') {
        for (const upstream of upstreamsOf(backend))
          this.#origins.add(poolKeyOf(backend.hostname, backend.port, upstream));
      } else if (backend.kind === 'cluster-ip') {
        for (const upstream of upstreamsOf(backend))
          this.#origins.add(poolKeyOf(backend.address, backend.port, upstream));
      }
    }
    for (const serviceKey of this.#backendsByService.keys()) this.#refreshService(serviceKey, endpoints);
  }

  #refreshService(serviceKey: string, endpoints: EndpointView): void {
    const backends = this.#backendsByService.get(serviceKey);
    if (backends === undefined) return;
    const old = this.#shares.get(serviceKey);
    const share: ServiceShare = { origins: [], endpointIds: [] };
    for (const backend of backends) {
      for (const endpoint of endpoints.endpointsFor(backend)) {
        share.endpointIds.push(endpoint.id);
        for (const upstream of upstreamsOf(backend))
          share.origins.push(poolKeyOf(endpoint.address, endpoint.port, upstream));
      }
    }
    // Add before taking the old share back, so an endpoint that stays never counts as gone.
    for (const origin of share.origins) this.#origins.add(origin);
    for (const id of share.endpointIds) this.#endpointIds.add(id);
    if (old !== undefined) {
      for (const origin of old.origins) this.#origins.remove(origin);
      for (const id of old.endpointIds) this.#endpointIds.remove(id);
    }
    this.#shares.set(serviceKey, share);
  }
}
