// One decision per request, shared by the proxy and `portico explain`: normalize, match,
// then redirects (permanent/temporal-redirect, then app-root, then HTTPS, ROUTING.md section 7), then where to forward.

import { canaryVerdict, rollCanary } from './canary-verdict.ts';
import { matchRequest } from './match-request.ts';
import { normalizeRequestHost, normalizeRequestTarget } from './normalize-request.ts';
import { rewritePath } from './rewrite-path.ts';
import type {
  CanaryRule,
  HostTls,
  ResolvedBackend,
  Route,
  RouteAttributes,
  RouteTable,
  SelectionAttributes,
} from './route-table.ts';

export interface RequestFacts {
  readonly scheme: 'http' | 'https';
  /** Host header as received (port included), or undefined */
  readonly hostHeader: string | undefined;
  /** request target as received (path and query) */
  readonly target: string;
  /** request header by lowercase name (canary by header or cookie); absent: no headers */
  readonly header?: (name: string) => string | undefined;
  /** a roll in [0, 1) for weighted canaries; absent (explain): weighted canaries are not rolled */
  readonly random?: () => number;
}

/** What the canary of the matched route did for this request. */
export interface CanaryOutcome {
  readonly rule: CanaryRule;
  /** the request goes to the canary backend */
  readonly chosen: boolean;
  /** only a weighted roll could decide (and one was rolled if `random` was given) */
  readonly weighted: boolean;
}

export type RequestDecision =
  | { readonly kind: 'bad-request'; readonly reason: string }
  | { readonly kind: 'not-found'; readonly host: string }
  | {
      readonly kind: 'redirect';
      /** 302 app-root, 308 HTTPS, 300-308 permanent-redirect, 302 temporal-redirect */
      readonly status: number;
      readonly location: string;
      readonly ingress: string | undefined;
      readonly route: Route | undefined;
    }
  | {
      readonly kind: 'forward';
      readonly host: string;
      readonly ingress: string;
      /** undefined when a default backend answers */
      readonly route: Route | undefined;
      readonly backend: ResolvedBackend;
      /** normalized (or rewritten) path plus the query as received */
      readonly upstreamPath: string;
      /** headers Portico adds or overrides upstream because of annotations */
      readonly upstreamHeaders: Readonly<Record<string, string>>;
      /** set when the matched route has a canary */
      readonly canary?: CanaryOutcome | undefined;
    };

/**
 * What chooses the endpoint for a forwarded request: the canary Ingress's own affinity,
 * upstream-hash-by and load-balance when the canary was chosen, else the route's.
 */
export function selectionOf(decision: Extract<RequestDecision, { kind: 'forward' }>): SelectionAttributes | undefined {
  return decision.canary?.chosen ? decision.canary.rule.selection : decision.route?.attributes;
}

export function findHostTls(table: RouteTable, host: string): HostTls | undefined {
  const exact = table.tlsHosts.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  return dot > 0 ? table.tlsHosts.get(`*.${host.slice(dot + 1)}`) : undefined;
}

function needsHttpsRedirect(
  facts: RequestFacts,
  tls: HostTls | undefined,
  attributes: RouteAttributes | undefined,
): boolean {
  if (facts.scheme === 'https') return false;
  const effective = attributes ?? tls?.attributes;
  if (effective?.forceSslRedirect) return true;
  return tls !== undefined && (effective?.sslRedirect ?? true);
}

export function resolveRequest(table: RouteTable, facts: RequestFacts): RequestDecision {
  const host = normalizeRequestHost(facts.hostHeader);
  if (host === undefined) return { kind: 'bad-request', reason: 'invalid Host header' };
  const normalized = normalizeRequestTarget(facts.target);
  if (!normalized.ok) return { kind: 'bad-request', reason: normalized.reason };
  const match = matchRequest(table, host, normalized.path);
  if (match.kind === 'not-found') {
    const tls = findHostTls(table, host);
    if (needsHttpsRedirect(facts, tls, undefined)) return httpsRedirect(host, facts, tls?.ingress, undefined);
    return { kind: 'not-found', host };
  }
  if (match.kind === 'default-backend') {
    const tls = findHostTls(table, host);
    if (needsHttpsRedirect(facts, tls, undefined)) return httpsRedirect(host, facts, tls?.ingress, undefined);
    return {
      kind: 'forward',
      host,
      ingress: match.fallback.ingress,
      route: undefined,
      backend: match.fallback.backend,
      upstreamPath: normalized.path + normalized.query,
      upstreamHeaders: {},
    };
  }
  const { route, groups } = match.match;
  const attributes = route.attributes;
  // permanent-redirect / temporal-redirect answer every request of the location before
  // anything else, as ingress-nginx's `return` in the location block (before app-root and HTTPS).
  if (attributes.redirect !== undefined) {
    return {
      kind: 'redirect',
      status: attributes.redirect.status,
      location: attributes.redirect.location,
      ingress: route.ingress,
      route,
    };
  }
  if (attributes.appRoot !== undefined && normalized.path === '/') {
    return {
      kind: 'redirect',
      status: 302,
      location: `${facts.scheme}://${facts.hostHeader ?? host}${attributes.appRoot}`,
      ingress: route.ingress,
      route,
    };
  }
  if (needsHttpsRedirect(facts, findHostTls(table, host), attributes))
    return httpsRedirect(host, facts, route.ingress, route);
  const upstreamHeaders: Record<string, string> = {};
  let upstreamPath = normalized.path;
  if (attributes.rewriteTarget !== undefined && route.match === 'regex') {
    upstreamPath = rewritePath(attributes.rewriteTarget, groups);
    if (attributes.xForwardedPrefix !== undefined) upstreamHeaders['x-forwarded-prefix'] = attributes.xForwardedPrefix;
  }
  if (attributes.upstreamVhost !== undefined) upstreamHeaders.host = attributes.upstreamVhost;
  const canary = route.canary ? decideCanary(route.canary, facts) : undefined;
  return {
    kind: 'forward',
    host,
    ingress: canary?.chosen ? canary.rule.ingress : route.ingress,
    route,
    backend: canary?.chosen ? canary.rule.backend : route.backend,
    upstreamPath: upstreamPath + normalized.query,
    upstreamHeaders,
    canary,
  };
}

function decideCanary(rule: CanaryRule, facts: RequestFacts): CanaryOutcome {
  const verdict = canaryVerdict(rule, facts.header ?? (() => undefined));
  if (verdict !== 'weighted') return { rule, chosen: verdict === 'canary', weighted: false };
  return { rule, chosen: facts.random ? rollCanary(rule, facts.random()) : false, weighted: true };
}

function httpsRedirect(
  host: string,
  facts: RequestFacts,
  ingress: string | undefined,
  route: Route | undefined,
): RequestDecision {
  // Deliberate difference from ingress-nginx: the path is kept exactly as received.
  return { kind: 'redirect', status: 308, location: `https://${host}${facts.target}`, ingress, route };
}
