// A slow, obviously-correct matcher written straight from ROUTING.md sections 2, 3 and 5.
// It looks at every route of every host entry; the trie must agree with it on every case.

import type { MatchResult } from '../../src/routing/match-request.ts';
import type { HostRoutes, Route, RouteTable } from '../../src/routing/route-table.ts';

function allEntries(table: RouteTable): HostRoutes[] {
  return [...table.exactHosts.values(), ...table.wildcardHosts.values(), ...(table.hostless ? [table.hostless] : [])];
}

function referenceHostEntry(table: RouteTable, host: string): HostRoutes | undefined {
  const entries = allEntries(table);
  const exact = entries.find((entry) => entry.host !== '' && !entry.host.startsWith('*.') && entry.host === host);
  if (exact) return exact;
  const wildcard = entries.find((entry) => {
    if (!entry.host.startsWith('*.')) return false;
    const labels = host.split('.');
    return labels.length >= 2 && labels[0] !== '' && labels.slice(1).join('.') === entry.host.slice(2);
  });
  return wildcard ?? entries.find((entry) => entry.host === '');
}

function prefixMatches(rulePath: string, requestPath: string): boolean {
  const rule = rulePath.split('/').filter(Boolean);
  const request = requestPath.split('/').filter(Boolean);
  return rule.length <= request.length && rule.every((segment, index) => segment === request[index]);
}

const KIND_ORDER = { exact: 0, prefix: 1, regex: 2 } as const;

function precedence(a: Route, b: Route): number {
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  if (a.match !== b.match) return KIND_ORDER[a.match] - KIND_ORDER[b.match];
  if (a.ingressRank !== b.ingressRank) return a.ingressRank - b.ingressRank;
  if (a.match === 'prefix' && a.pathType !== b.pathType) return a.pathType === 'Prefix' ? -1 : 1;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export function referenceMatch(table: RouteTable, host: string, path: string): MatchResult {
  const entry = referenceHostEntry(table, host);
  const candidates = (entry?.routes ?? []).filter((route) => {
    if (route.match === 'exact') return route.path === path;
    if (route.match === 'prefix') return prefixMatches(route.path, path);
    return route.pattern?.exec(path) != null;
  });
  candidates.sort(precedence);
  const winner = candidates[0];
  if (entry && winner) {
    return {
      kind: 'route',
      entry,
      match: {
        route: winner,
        groups: winner.match === 'regex' ? (winner.pattern?.exec(path) ?? undefined) : undefined,
      },
    };
  }
  const fallback = entry && entry.host !== '' ? entry.defaultBackend : table.catchAll;
  return fallback ? { kind: 'default-backend', entry, fallback } : { kind: 'not-found', entry };
}
