// A Service port's endpoints, merged across all its EndpointSlices (ROUTING.md section 6).
// The target port is the slice port named like the Service port, which resolves named
// targetPorts; a numeric targetPort is the fallback when no slice port carries the name.

import type { EndpointSliceRecord } from '../model/records.ts';
import type { ResolvedBackend } from '../routing/route-table.ts';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** `ip:port`, or `[ipv6]:port` */
  readonly id: string;
  /** may take new requests */
  readonly ready: boolean;
  /** may finish requests already in flight */
  readonly serving: boolean;
  readonly terminating: boolean;
}

export type ServiceBackend = Extract<ResolvedBackend, { kind: 'service' }>;

export function endpointId(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Groups slices by `ns/service`, the key a ServiceBackend carries. */
export function indexSlicesByService(
  slices: Iterable<EndpointSliceRecord>,
): ReadonlyMap<string, readonly EndpointSliceRecord[]> {
  const index = new Map<string, EndpointSliceRecord[]>();
  for (const slice of slices) {
    if (!slice.serviceName) continue;
    const key = `${slice.namespace}/${slice.serviceName}`;
    const list = index.get(key);
    if (list) list.push(slice);
    else index.set(key, [slice]);
  }
  return index;
}

export function endpointsForBackend(
  backend: ServiceBackend,
  slices: readonly EndpointSliceRecord[] | undefined,
): Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const slice of slices ?? []) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const named = slice.ports.find((port) => port.name === backend.servicePortName);
    const port = named ? named.port : backend.targetPortNumber;
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      for (const address of endpoint.addresses) {
        const id = endpointId(address, port);
        const existing = byId.get(id);
        // The same address in two slices (mid-migration): the more usable condition wins.
        if (existing && (existing.ready || !endpoint.ready)) continue;
        byId.set(id, {
          address,
          port,
          id,
          ready: endpoint.ready && !endpoint.terminating,
          serving: endpoint.serving,
          terminating: endpoint.terminating,
        });
      }
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
