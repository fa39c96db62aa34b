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
 * What a Service's share depends on besides its endpoints: each of its backends' port and
 * target port (which endpoints `endpointsFor` lists) and upstream protocols (which pool keys
 * they make), as one string. Two tables whose backends of a Service agree here give that
 * Service the same share.
 */
function shareSignature(backends: readonly ServiceBackend[]): string {
  const parts = backends.map(
    (backend) =>
      `${backend.servicePortName}\u0000${backend.targetPortNumber ?? ''}\u0000${upstreamsOf(backend)
        .map((upstream) => poolKeyOf('', 0, upstream))
        .join('\u0000')}`,
  );
  return [...new Set(parts)].sort().join('\u0001');
}

function sameObjects(a: readonly object[], b: readonly object[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

interface ServiceBackends {
  readonly backends: ServiceBackend[];
  signature: string;
}

/**
 * `collectLiveEndpoints`, kept up to date at the cost of what changed. When only endpoints
 * moved (and the view says which Services), only those Services' backends are looked at
 * again; a new table is walked (every route, to find its backends), but only the Services
 * whose backends differ from the last table's (a new Service, a new port or protocol) or whose
 * endpoints changed meanwhile have their endpoints looked up again. At 10,000 Services,
 * looking up every Service after each table swap cost 120–240 ms of blocked event loop
 * (`npm run bench:scale` profile), on the 1 s reconcile timer.
 */
export class LiveEndpointTracker {
  #table: RouteTable | undefined;
  #view: EndpointView | undefined;
  #version = -1;
  #origins = new CountedSet();
  #endpointIds = new CountedSet();
  /** the table's Service backends, by Service key */
  #backendsByService = new Map<string, ServiceBackends>();
  #shares = new Map<string, ServiceShare>();
  /** ExternalName and ClusterIP origins of the table */
  #otherOrigins: string[] = [];

  /** Brings the live sets up to `table` and `endpoints` and returns them (the same as `collectLiveEndpoints`). */
  update(table: RouteTable, endpoints: EndpointView): LiveEndpoints {
    // undefined: not known which Services' endpoints changed, so all of them may have
    const changed = endpoints === this.#view ? endpoints.servicesChangedSince?.(this.#version) : undefined;
    if (table !== this.#table) this.#takeTable(table, endpoints, changed);
    else if (changed === undefined)
      for (const serviceKey of this.#backendsByService.keys()) this.#refreshService(serviceKey, endpoints);
    else for (const serviceKey of changed) this.#refreshService(serviceKey, endpoints);
    this.#table = table;
    this.#view = endpoints;
    this.#version = endpoints.version;
    return { origins: this.#origins.members, endpointIds: this.#endpointIds.members };
  }

  #takeTable(table: RouteTable, endpoints: EndpointView, changed: ReadonlySet<string> | undefined): void {
    const byService = new Map<string, ServiceBackends>();
    const otherOrigins: string[] = [];
    for (const backend of collectBackends(table)) {
      if (backend.kind === 'service') {
        const entry = byService.get(backend.serviceKey);
        if (entry === undefined) byService.set(backend.serviceKey, { backends: [backend], signature: '' });
        else entry.backends.push(backend);
      } else if (backend.kind === 'external-name') {
        for (const upstream of upstreamsOf(backend))
          otherOrigins.push(poolKeyOf(backend.hostname, backend.port, upstream));
      } else if (backend.kind === 'cluster-ip') {
        for (const upstream of upstreamsOf(backend))
          otherOrigins.push(poolKeyOf(backend.address, backend.port, upstream));
      }
    }
    // Add before taking the old back, so an origin that stays never counts as gone.
    for (const origin of otherOrigins) this.#origins.add(origin);
    for (const origin of this.#otherOrigins) this.#origins.remove(origin);
    this.#otherOrigins = otherOrigins;

    const previous = this.#backendsByService;
    this.#backendsByService = byService;
    for (const [serviceKey, entry] of byService) {
      const before = previous.get(serviceKey);
      // The same backend objects (a table that kept this Service's routes) need no new signature.
      entry.signature =
        before !== undefined && sameObjects(before.backends, entry.backends)
          ? before.signature
          : shareSignature(entry.backends);
      const same = before?.signature === entry.signature;
      if (!same || changed === undefined || changed.has(serviceKey)) this.#refreshService(serviceKey, endpoints);
    }
    for (const serviceKey of previous.keys()) if (!byService.has(serviceKey)) this.#dropShare(serviceKey);
  }

  #refreshService(serviceKey: string, endpoints: EndpointView): void {
    const entry = this.#backendsByService.get(serviceKey);
    if (entry === undefined) return;
    const old = this.#shares.get(serviceKey);
    const share: ServiceShare = { origins: [], endpointIds: [] };
    for (const backend of entry.backends) {
      for (const endpoint of endpoints.endpointsFor(backend)) {
        share.endpointIds.push(endpoint.id);
        for (const upstream of upstreamsOf(backend))
          share.origins.push(poolKeyOf(endpoint.address, endpoint.port, upstream));
      }
    }
    // Add before taking the old share back, so an endpoint that stays never counts as gone.
    for (const origin of share.origins) this.#origins.add(origin);
    for (const id of share.endpointIds) this.#endpointIds.add(id);
    if (old !== undefined) this.#takeBack(old);
    this.#shares.set(serviceKey, share);
  }

  #dropShare(serviceKey: string): void {
    const old = this.#shares.get(serviceKey);
    if (old === undefined) return;
    this.#takeBack(old);
    this.#shares.delete(serviceKey);
  }

  #takeBack(share: ServiceShare): void {
    for (const origin of share.origins) this.#origins.remove(origin);
    for (const id of share.endpointIds) this.#endpointIds.remove(id);
  }
}
