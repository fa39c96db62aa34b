// The winning-route search of ROUTING.md section 3 for one host entry:
// longest path string wins; on equal length Exact beats Prefix beats regex; equal-length
// regexes go by Ingress age, then pattern bytes. Exact and Prefix paths live in one segment
// trie (cost follows the request's depth, not the number of routes); regexes in one list
// sorted so the first match that can still win is the answer.

import type { PathLookup, PathMatch, Route } from './route-table.ts';

interface TrieNode {
  /** undefined on leaves: most nodes are leaves, and a Map each would bloat the trie's cache footprint */
  children: Map<string, TrieNode> | undefined;
  /** the winning Prefix route ending at this node (`/foo/` beats `/foo`: longer string) */
  prefix: Route | undefined;
  /** Exact routes ending here, without and with a trailing slash (`/foo` and `/foo/` differ) */
  exact: Route | undefined;
  exactWithSlash: Route | undefined;
}

function newNode(): TrieNode {
  return { children: undefined, prefix: undefined, exact: undefined, exactWithSlash: undefined };
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

function insertNode(root: TrieNode, path: string): TrieNode {
  let node = root;
  for (const segment of pathSegments(path)) {
    node.children ??= new Map();
    let child = node.children.get(segment);
    if (!child) {
      child = newNode();
      node.children.set(segment, child);
    }
    node = child;
  }
  return node;
}

export function buildPathLookup(routes: readonly Route[]): PathLookup {
  const root = newNode();
  const regexes: Route[] = [];
  for (const route of routes) {
    if (route.match === 'regex') {
      regexes.push(route);
      continue;
    }
    const node = insertNode(root, route.path);
    if (route.match === 'exact') {
      // `/` has no segments and counts as "without slash" so it meets request `/`.
      if (route.path.length > 1 && route.path.endsWith('/')) node.exactWithSlash = route;
      else node.exact = route;
    } else if (!node.prefix || comparePrefixRoutes(route, node.prefix) < 0) {
      node.prefix = route;
    }
  }
  regexes.sort(compareRegexRoutes);
  return Object.freeze({
    find(path: string): PathMatch | undefined {
      const best = findLiteral(root, path);
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

/** Deepest Prefix route along the path, or the Exact route at its end when that is at least as long. */
function findLiteral(root: TrieNode, path: string): Route | undefined {
  let node = root;
  let best = root.prefix;
  let start = 1;
  let reachedEnd = true;
  while (start < path.length) {
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    const child = node.children?.get(path.slice(start, end));
    if (!child) {
      reachedEnd = false;
      break;
    }
    node = child;
    if (node.prefix) best = node.prefix;
    start = end + 1;
  }
  if (reachedEnd) {
    const exact = path.length > 1 && path.endsWith('/') ? node.exactWithSlash : node.exact;
    if (exact && (!best || exact.path.length >= best.path.length)) return exact;
  }
  return best;
}
