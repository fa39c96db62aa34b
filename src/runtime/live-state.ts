// The seam between the control side (store → compile → swap) and the proxy.
// The proxy reads `routing()` once per request and uses that table to the request's end;
// endpoint sets change on their own fast path without a new table.

import type { Endpoint, ServiceBackend } from '../endpoints/service-endpoints.ts';
import type { RouteTable } from '../routing/route-table.ts';

export interface RoutingState {
  readonly table: RouteTable;
  /** increases by one with every swapped table */
  readonly generation: number;
}

export interface EndpointView {
  /** every endpoint of the backend's Service port, in all conditions; pickers filter on `ready` */
  endpointsFor(backend: ServiceBackend): readonly Endpoint[];
  /** increases whenever any endpoint set changes, so pickers can cache per version */
  readonly version: number;
  /**
   * The Service keys whose endpoints changed after `version`, or undefined when that is no
   * longer known (too long ago); lets the pool reconcile look at those Services only.
   */
  servicesChangedSince?(version: number): ReadonlySet<string> | undefined;
}

export interface LiveState {
  routing(): RoutingState;
  readonly endpoints: EndpointView;
}
