// `portico explain`: which Ingress, rule, Service port and endpoints a request would reach,
// computed by the same compile, match and resolve code the proxy runs (ROUTING.md section 8).

import { compile } from '../compile/compile.ts';
import { compileWithTls } from '../tls/compile-with-tls.ts';
import type { CompileOptions } from '../compile/compile-options.ts';
import { affinitySecretOf, isBalancedSessionKey, persistentCookieEndpoint } from '../endpoints/cookie-affinity.ts';
import { hashKey, rendezvousPick } from '../endpoints/rendezvous-hash.ts';
import {
  type Endpoint,
  endpointId,
  endpointsForBackend,
  indexSlicesByService,
  type ServiceBackend,
} from '../endpoints/service-endpoints.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import { readCookie } from '../routing/canary-verdict.ts';
import { evaluateHashKey } from '../routing/hash-key.ts';
import { type RequestFacts, resolveRequest, selectionOf } from '../routing/resolve-request.ts';
import type { BackendRef, ResolvedBackend, SelectionAttributes } from '../routing/route-table.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';

export interface ExplainAnswer {
  readonly status: number;
  readonly ingress: string | null;
  readonly rule: { readonly host: string; readonly path: string; readonly pathType: string } | null;
  readonly backend: BackendRef | null;
  readonly upstreamPath: string | null;
  readonly upstreamHeaders: Readonly<Record<string, string>>;
  readonly location: string | null;
  readonly endpoints: readonly string[];
  readonly reason: string | null;
  readonly diagnostics: readonly Diagnostic[];
  /**
   * present only when `affinity: cookie` or `upstream-hash-by` places the request: the endpoint
   * it reaches, or null when that is left to load balancing (a new session) or unknown here
   * (a key that uses the client address, which explain does not have)
   */
  readonly placement?: Placement;
  /** present only for a canary that only a weighted roll would decide (explain never rolls) */
  readonly canary?: { readonly backend: BackendRef | null; readonly weight: number; readonly weightTotal: number };
}

export type Placement =
  | {
      readonly by: 'cookie';
      readonly cookie: string;
      readonly mode: 'balanced' | 'persistent';
      readonly endpoint: string | null;
    }
  | { readonly by: 'upstream-hash-by'; readonly key: string | null; readonly endpoint: string | null };

export interface ExplainInput {
  readonly method: string;
  readonly url: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** `http://host:port/path?q` or `host/path` (http assumed) → scheme, authority, target. */
export function splitUrl(url: string): { scheme: 'http' | 'https'; authority: string; target: string } | undefined {
  const found = /^(?:(https?):\/\/)?([^/?#]*)([^#]*)$/i.exec(url);
  if (!found) return undefined;
  const target = found[3] ?? '';
  return {
    scheme: found[1]?.toLowerCase() === 'https' ? 'https' : 'http',
    authority: found[2] ?? '',
    target: target === '' ? '/' : target.startsWith('?') ? `/${target}` : target,
  };
}

function backendRefOf(backend: ResolvedBackend): BackendRef | null {
  return backend.kind === 'unavailable' ? (backend.ref ?? null) : backend.ref;
}

export function explainRequest(snapshot: ClusterSnapshot, options: CompileOptions, input: ExplainInput): ExplainAnswer {
  // The TLS step too, so certificate problems (missing Secret, bad PEM, expired) are reported
  // here as the proxy would report them.
  const { table, diagnostics } = compileWithTls(compile, { defaultCertificateSecret: undefined })(snapshot, options);
  const base = {
    ingress: null,
    rule: null,
    backend: null,
    upstreamPath: null,
    upstreamHeaders: {},
    location: null,
    endpoints: [],
    reason: null,
    diagnostics,
  };
  const parts = splitUrl(input.url);
  if (!parts) return { ...base, status: 400, reason: 'URL is not http(s)://host/path' };
  const facts: RequestFacts = {
    scheme: parts.scheme,
    hostHeader: input.headers.get('host') ?? (parts.authority || undefined),
    target: parts.target,
    header: (name) => input.headers.get(name),
  };
  const decision = resolveRequest(table, facts);
  switch (decision.kind) {
    case 'bad-request':
      return { ...base, status: 400, reason: decision.reason };
    case 'not-found':
      return { ...base, status: 404, reason: 'no rule or default backend matches' };
    case 'redirect':
      return {
        ...base,
        status: decision.status,
        ingress: decision.ingress ?? null,
        rule: decision.route ? ruleOf(decision.route) : null,
        backend: decision.route ? backendRefOf(decision.route.backend) : null,
        location: decision.location,
      };
    case 'forward': {
      const backend = decision.backend;
      let endpoints: string[] = [];
      let status = 200;
      let reason: string | null = null;
      let placement: Placement | undefined;
      if (backend.kind === 'service') {
        const slices = indexSlicesByService(snapshot.endpointSlices.values()).get(backend.serviceKey);
        const ready = endpointsForBackend(backend, slices).filter((endpoint) => endpoint.ready);
        endpoints = ready.map((endpoint) => endpoint.id);
        placement = placementOf(selectionOf(decision), backend, ready, parts.target, facts);
        if (endpoints.length === 0) {
          status = 503;
          reason = `service ${backend.serviceKey} port ${backend.ref.port} has no ready endpoints`;
        }
      } else if (backend.kind === 'external-name') {
        endpoints = [`${backend.hostname}:${backend.port}`];
      } else if (backend.kind === 'cluster-ip') {
        endpoints = [endpointId(backend.address, backend.port)];
      } else {
        status = 503;
        reason = backend.reason;
      }
      return {
        ...base,
        status,
        reason,
        ingress: decision.ingress,
        rule: decision.route ? ruleOf(decision.route) : null,
        backend: backendRefOf(backend),
        upstreamPath: decision.upstreamPath,
        upstreamHeaders: decision.upstreamHeaders,
        endpoints,
        ...(placement ? { placement } : {}),
        ...(decision.canary?.weighted
          ? {
              canary: {
                backend: backendRefOf(decision.canary.rule.backend),
                weight: decision.canary.rule.weight,
                weightTotal: decision.canary.rule.weightTotal,
              },
            }
          : {}),
      };
    }
  }
}

function ruleOf(route: { host: string; path: string; pathType: string }) {
  return { host: route.host, path: route.path, pathType: route.pathType };
}

/** The proxy's placement rules (forward-request.ts pickTarget), for what explain can know. */
function placementOf(
  selection: SelectionAttributes | undefined,
  backend: ServiceBackend,
  ready: readonly Endpoint[],
  target: string,
  facts: RequestFacts,
): Placement | undefined {
  const header = facts.header ?? (() => undefined);
  const cookie = selection?.sessionCookie;
  if (cookie !== undefined) {
    const value = readCookie(header('cookie'), cookie.name);
    const endpoint =
      cookie.mode === 'persistent'
        ? persistentCookieEndpoint(ready, affinitySecretOf(backend), value)
        : isBalancedSessionKey(value)
          ? rendezvousPick(ready, hashKey(value), undefined)
          : undefined;
    return { by: 'cookie', cookie: cookie.name, mode: cookie.mode, endpoint: endpoint?.id ?? null };
  }
  const template = selection?.upstreamHashBy;
  if (template === undefined) return undefined;
  if (template.parts.some((part) => part.kind === 'remote-addr'))
    return { by: 'upstream-hash-by', key: null, endpoint: null };
  const key = evaluateHashKey(template, { clientIp: '', requestUri: target, header });
  return { by: 'upstream-hash-by', key, endpoint: rendezvousPick(ready, hashKey(key), undefined)?.id ?? null };
}
