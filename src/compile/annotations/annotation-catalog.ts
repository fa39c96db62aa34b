// Every ingress-nginx annotation Portico has an answer for, with that answer. README.md's
// annotation table is checked against this list (test/compile/annotation-catalog.test.ts),
// and any other `nginx.ingress.kubernetes.io/*` annotation gets a generic
// UnsupportedAnnotation diagnostic, so nothing on an Ingress is silently ignored.

import { CANARY_ANNOTATIONS, REFUSED_ANNOTATIONS, ROUTE_ANNOTATIONS } from './annotation-registry.ts';

export type AnnotationStatus = 'supported' | 'differs' | 'unsupported';

export interface CatalogEntry {
  /** without the `nginx.ingress.kubernetes.io/` prefix */
  readonly name: string;
  readonly status: AnnotationStatus;
  /** how it differs, or why it is not supported; empty for plain support */
  readonly note: string;
}

const SNIPPET_NOTE = 'raw nginx configuration; Portico has no config text (the root of the 2025 injection CVEs)';

export const ANNOTATION_CATALOG: readonly CatalogEntry[] = Object.freeze([
  { name: 'rewrite-target', status: 'supported', note: 'turns on regex paths for this Ingress only' },
  {
    name: 'use-regex',
    status: 'differs',
    note: 'regex (RE2, case-insensitive, anchored at the start) applies to this Ingress only, not to every path of the host',
  },
  {
    name: 'x-forwarded-prefix',
    status: 'supported',
    note: 'sent only with an active rewrite-target, as ingress-nginx',
  },
  { name: 'app-root', status: 'supported', note: '' },
  { name: 'ssl-redirect', status: 'differs', note: '308 keeps the path exactly as received (no trailing-slash strip)' },
  { name: 'force-ssl-redirect', status: 'differs', note: '308 keeps the path exactly as received' },
  { name: 'upstream-vhost', status: 'supported', note: '' },
  { name: 'canary', status: 'supported', note: 'one canary per main path; the canary adds no routes of its own' },
  { name: 'canary-by-header', status: 'supported', note: '' },
  { name: 'canary-by-header-value', status: 'supported', note: '' },
  {
    name: 'canary-by-header-pattern',
    status: 'differs',
    note: 'RE2 (linear time): backreferences and lookaround are refused',
  },
  { name: 'canary-by-cookie', status: 'supported', note: '' },
  { name: 'canary-weight', status: 'supported', note: '' },
  { name: 'canary-weight-total', status: 'supported', note: '' },
  {
    name: 'backend-protocol',
    status: 'differs',
    note: 'HTTP and HTTPS; GRPC, GRPCS, AUTO_HTTP and FCGI are refused with a diagnostic',
  },
  { name: 'proxy-ssl-verify', status: 'supported', note: 'off by default, as ingress-nginx' },
  { name: 'proxy-ssl-name', status: 'supported', note: '' },
  { name: 'proxy-ssl-secret', status: 'supported', note: '' },
  ...[...REFUSED_ANNOTATIONS.keys()].map((name) => ({ name, status: 'unsupported' as const, note: SNIPPET_NOTE })),
]);

/** Names the compiler reads (supported or differing): every spec of the registry. */
export function registryAnnotationNames(): string[] {
  return [...Object.values(ROUTE_ANNOTATIONS), ...Object.values(CANARY_ANNOTATIONS)].map((spec) => spec.name);
}

const KNOWN = new Set(ANNOTATION_CATALOG.map((entry) => entry.name));

export function isCatalogued(name: string): boolean {
  return KNOWN.has(name);
}
