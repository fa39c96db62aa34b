// The origins some backend of the current table can still reach: every endpoint listed for a
// Service port in any condition (a terminating endpoint keeps its pool until it is gone, so
// its in-flight requests finish), plus ExternalName targets and `service-upstream` ClusterIPs, for
// route, canary, default and `default-backend` annotation backends alike. Pools outside this set close.

import type { ResolvedBackend, RouteTable } from '../routing/route-table.ts';
import type { EndpointView } from '../runtime/live-state.ts';
import { poolKeyOf } from './pool-registry.ts';

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
  /** pool keys (`poolKeyOf`): one per endpoint and protocol, one per ExternalName or ClusterIP */
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
        origins.add(poolKeyOf(endpoint.address, endpoint.port, backend.upstream));
      }
    } else if (backend.kind === 'external-name') {
      origins.add(poolKeyOf(backend.hostname, backend.port, backend.upstream));
    } else if (backend.kind === 'cluster-ip') {
      origins.add(poolKeyOf(backend.address, backend.port, backend.upstream));
    }
  }
  return { origins, endpointIds };
}
