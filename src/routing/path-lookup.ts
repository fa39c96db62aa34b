// The winning-route search of ROUTING.md section 3 for one host entry:
// longest path string wins; on equal length Exact beats Prefix beats regex; equal-length
// regexes go by Ingress age, then pattern bytes. Exact paths sit in a map, Prefix paths in
// a segment trie (cost follows the request's depth, not the number of routes), regexes in
// one list sorted so the first match that can still win is the answer.

import type { PathLookup, PathMatch, Route } from './route-table.ts';

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** Prefix routes ending at this node; the longest path string wins (e.g. `/foo/` over `/foo`). */
  prefix: Route | undefined;
}

function newNode(): TrieNode {
  return { children: new Map(), prefix: undefined };
}

/** `/foo/bar/` → ['foo', 'bar']; `/` → []. Request paths are normalized, so no empty segments. */
function pathSegments(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

export function compareRegexRoutes(a: Route, b: Route): number {
  return (
    b.path.length - a.path.length || a.ingressRank - b.ingressRank || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  );
}

/**
 * Order of Prefix-like routes that end on the same trie node: longer path string first
 * (`/foo/` over `/foo`), then the older Ingress, then `Prefix` over `ImplementationSpecific`.
 */
export function comparePrefixRoutes(a: Route, b: Route): number {
  return (
    b.path.length - a.path.length ||
    a.ingressRank - b.ingressRank ||
    (a.pathType === b.pathType ? 0 : a.pathType === 'Prefix' ? -1 : 1)
  );
}

export function buildPathLookup(routes: readonly Route[]): PathLookup {
  const exact = new Map<string, Route>();
  const root = newNode();
  const regexes: Route[] = [];
  for (const route of routes) {
    if (route.match === 'exact') {
      exact.set(route.path, route);
    } else if (route.match === 'prefix') {
      let node = root;
      for (const segment of pathSegments(route.path)) {
        let child = node.children.get(segment);
        if (!child) {
          child = newNode();
          node.children.set(segment, child);
        }
        node = child;
      }
      if (!node.prefix || comparePrefixRoutes(route, node.prefix) < 0) node.prefix = route;
    } else {
      regexes.push(route);
    }
  }
  regexes.sort(compareRegexRoutes);
  return Object.freeze({
    find(path: string): PathMatch | undefined {
      let best = findPrefix(root, path);
      const exactRoute = exact.get(path);
      if (exactRoute && (!best || exactRoute.path.length >= best.path.length)) best = exactRoute;
      const bestLength = best ? best.path.length : -1;
      for (const route of regexes) {
        // Sorted longest first: once a regex is no longer than the literal winner, it cannot win.
        if (route.path.length <= bestLength) break;
        const groups = route.pattern?.exec(path);
        if (groups) return { route, groups };
      }
      return best ? { route: best, groups: undefined } : undefined;
    },
  });
}

function findPrefix(root: TrieNode, path: string): Route | undefined {
  let node = root;
  let best = root.prefix;
  let start = 1;
  while (start <= path.length) {
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    if (end > start) {
      const child = node.children.get(path.slice(start, end));
      if (!child) break;
      node = child;
      if (node.prefix) best = node.prefix;
    }
    start = end + 1;
  }
  return best;
}
