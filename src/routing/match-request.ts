// Resolves a normalized (host, path) against a table (ROUTING.md sections 2 and 5).
// Once a host entry is chosen its paths decide; no fall-through to a less specific entry.

import type { HostDefaultBackend, HostRoutes, PathMatch, RouteTable } from './route-table.ts';

export type MatchResult =
  | { readonly kind: 'route'; readonly entry: HostRoutes; readonly match: PathMatch }
  | { readonly kind: 'default-backend'; readonly entry: HostRoutes | undefined; readonly fallback: HostDefaultBackend }
  | { readonly kind: 'not-found'; readonly entry: HostRoutes | undefined };

export function findHostEntry(table: RouteTable, host: string): HostRoutes | undefined {
  if (host !== '') {
    const exact = table.exactHosts.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const wildcard = table.wildcardHosts.get(host.slice(dot + 1));
      if (wildcard) return wildcard;
    }
  }
  return table.hostless;
}

export function matchRequest(table: RouteTable, host: string, path: string): MatchResult {
  const entry = findHostEntry(table, host);
  const match = entry?.lookup.find(path);
  if (entry && match) return { kind: 'route', entry, match };
  // A defined host falls back to its own default backend only; host-less rules and unknown
  // hosts fall back to the cluster-wide catch-all.
  const fallback = entry && entry.host !== '' ? entry.defaultBackend : table.catchAll;
  if (fallback) return { kind: 'default-backend', entry, fallback };
  return { kind: 'not-found', entry };
}
