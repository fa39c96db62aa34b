// The compiled routing table: immutable data built by compile and read by every request.
// A request reads the table reference once and uses that table to its end.

import type { Credentials } from '../auth/htpasswd.ts';
import type { LoadBalanceAlgorithm } from '../endpoints/endpoint-picker.ts';
import type { TlsCertificates } from '../tls/bind-certificates.ts';
import type { CorsPolicy } from './cors-policy.ts';
import type { HashKeyTemplate } from './hash-key.ts';
import type { NextUpstreamPolicy } from './next-upstream.ts';
import type { SourceRange } from './source-range.ts';

export type IngressPathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

/** How a route's path is compared with the request path (ROUTING.md section 3). */
export type PathMatchKind = 'exact' | 'prefix' | 'regex';

/** The backend as written in the Ingress; `port` is echoed as written (number or name). */
export interface BackendRef {
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
}

/** TLS towards an HTTPS backend (ingress-nginx `proxy-ssl-*` annotations). */
export interface UpstreamTls {
  /** check the backend's certificate (`proxy-ssl-verify: "on"`); off by default, as ingress-nginx */
  readonly verify: boolean;
  /** SNI name and the name verified (`proxy-ssl-name`); else the ExternalName host, none for pod IPs */
  readonly serverName: string | undefined;
  /** trust anchors (`ca.crt` of `proxy-ssl-secret`); else Node's bundled CAs */
  readonly caPem: string | undefined;
  /** client certificate (`tls.crt`/`tls.key` of `proxy-ssl-secret`) */
  readonly clientCertificate: { readonly certPem: string; readonly keyPem: string } | undefined;
  /** '' for the defaults; otherwise a digest of the settings, so differing settings never share a pool */
  readonly profile: string;
}

/** The `backend-protocol` values Portico speaks; AUTO_HTTP follows the client's scheme (HTTP or HTTPS). */
export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS' | 'AUTO_HTTP';

/**
 * How Portico talks to a backend: `backend-protocol` on the Ingress, else the Service port's
 * `appProtocol` (`https`, `kubernetes.io/h2c`), else HTTP/1.1. `https` is HTTP/1.1 over TLS,
 * or HTTP/2 (ALPN h2) with `http2` (`backend-protocol: GRPCS`).
 */
export type UpstreamProtocol = (
  | { readonly kind: 'http1' }
  | { readonly kind: 'h2c' }
  | { readonly kind: 'https'; readonly tls: UpstreamTls; readonly http2?: boolean | undefined }
) & {
  /** `proxy-connect-timeout` of the route, in ms; undefined: the proxy's default */
  readonly connectTimeoutMs?: number | undefined;
};

/**
 * Where traffic for a route goes once the Service has been looked at. Endpoints are not part
 * of the table: they change without recompiling and are looked up by `endpointsKey`.
 */
export type ResolvedBackend =
  | {
      readonly kind: 'service';
      readonly ref: BackendRef;
      /** `ns/service` — the key of the Service's merged EndpointSlices */
      readonly serviceKey: string;
      /** the Service port's name: the EndpointSlice port with this name gives the target port */
      readonly servicePortName: string;
      readonly servicePort: number;
      /** numeric targetPort, used when no slice port carries the Service port's name */
      readonly targetPortNumber: number | undefined;
      readonly appProtocol: string | undefined;
      readonly sessionAffinity: 'None' | 'ClientIP';
      /** the Service's metadata.uid: the key of persistent affinity cookies (cookie-affinity.ts) */
      readonly serviceUid?: string | undefined;
      readonly upstream: UpstreamProtocol;
      /**
       * `backend-protocol: AUTO_HTTP`: the protocol for requests that came over TLS (`upstream`
       * is then HTTP/1.1, for plain-HTTP requests); undefined: `upstream` for every request
       */
      readonly upstreamWhenTls?: UpstreamProtocol | undefined;
    }
  | {
      readonly kind: 'external-name';
      readonly ref: BackendRef;
      readonly hostname: string;
      readonly port: number;
      readonly upstream: UpstreamProtocol;
      readonly upstreamWhenTls?: UpstreamProtocol | undefined;
    }
  | {
      /** `service-upstream: "true"`: the Service's ClusterIP and port; kube-proxy picks the pod. */
      readonly kind: 'cluster-ip';
      readonly ref: BackendRef;
      readonly address: string;
      readonly port: number;
      readonly upstream: UpstreamProtocol;
      readonly upstreamWhenTls?: UpstreamProtocol | undefined;
    }
  | {
      /** Missing Service, unknown port, resource backend: answers 503 (ROUTING.md section 6). */
      readonly kind: 'unavailable';
      readonly ref: BackendRef | undefined;
      readonly reason: string;
    };

export type CookieSameSite = 'Strict' | 'Lax' | 'None';

/** `affinity: cookie` and its `session-cookie-*` family. */
export interface SessionCookieSettings {
  readonly name: string;
  readonly mode: 'balanced' | 'persistent';
  /** `session-cookie-path`; undefined: the matched route's path (`/` for a regex route) */
  readonly path: string | undefined;
  readonly domain: string | undefined;
  readonly maxAgeSeconds: number | undefined;
  readonly expiresSeconds: number | undefined;
  readonly sameSite: CookieSameSite | undefined;
  /** leave SameSite=None off for browsers known to reject it */
  readonly conditionalSameSiteNone: boolean;
  /** Secure even on plain HTTP */
  readonly secure: boolean;
  /** a retry after a failure moves the session to the endpoint that answered */
  readonly changeOnFailure: boolean;
}

/**
 * `auth-type: basic` (ingress-nginx). When the Secret or an annotation is unusable the route
 * fails closed: it answers 503 rather than serve without the protection it asked for.
 */
export type RouteAuth =
  | {
      readonly kind: 'basic';
      /** `auth-realm`, for `WWW-Authenticate: Basic realm="..."` */
      readonly realm: string;
      /** `ns/name` of the Secret */
      readonly secretKey: string;
      /** one object per Secret generation: the proxy caches verifications against it */
      readonly credentials: Credentials;
    }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Per-route behaviour taken from annotations; unset fields mean "not configured". */
export interface RouteAttributes {
  readonly rewriteTarget: string | undefined;
  readonly xForwardedPrefix: string | undefined;
  readonly appRoot: string | undefined;
  readonly sslRedirect: boolean;
  readonly forceSslRedirect: boolean;
  readonly upstreamVhost: string | undefined;
  /** `backend-protocol`; undefined: the Service port's appProtocol decides */
  readonly backendProtocol: BackendProtocol | undefined;
  /** `proxy-ssl-verify: "on"` */
  readonly proxySslVerify: boolean;
  readonly proxySslName: string | undefined;
  /** `ns/name` from `proxy-ssl-secret` */
  readonly proxySslSecret: string | undefined;
  /** `proxy-body-size` in bytes; undefined (or `0` written): unlimited */
  readonly proxyBodySize?: number | undefined;
  /** `proxy-read-timeout` / `proxy-send-timeout` in ms; undefined: the proxy's defaults */
  readonly proxyReadTimeoutMs?: number | undefined;
  readonly proxySendTimeoutMs?: number | undefined;
  /** `proxy-connect-timeout` in ms; undefined: the proxy's default */
  readonly proxyConnectTimeoutMs?: number | undefined;
  /** `proxy-next-upstream` (+ `-tries`, `-timeout`); undefined: DEFAULT_NEXT_UPSTREAM */
  readonly nextUpstream?: NextUpstreamPolicy | undefined;
  /** `service-upstream: "true"`: send to the Service's ClusterIP instead of its endpoints */
  readonly serviceUpstream?: boolean | undefined;
  /** `permanent-redirect` (with its code, default 301) or else `temporal-redirect` (with its code, default 302) */
  readonly redirect?: { readonly status: number; readonly location: string } | undefined;
  /** `allowlist-source-range` (or `whitelist-source-range`) */
  readonly allowSourceRanges?: readonly SourceRange[] | undefined;
  /** `denylist-source-range` */
  readonly denySourceRanges?: readonly SourceRange[] | undefined;
  /** `enable-cors: "true"` with the `cors-*` annotations; undefined: no CORS handling */
  readonly cors?: CorsPolicy | undefined;
  /** `custom-http-errors`: upstream statuses whose response is replaced by the error backend's */
  readonly customHttpErrors?: readonly number[] | undefined;
  /**
   * `default-backend`, resolved by compile (the Service's first port): serves the route when its
   * backend has no ready endpoint, and answers `customHttpErrors`
   */
  readonly defaultBackend?: ResolvedBackend | undefined;
  /** `limit-rps` / `limit-rpm` / `limit-connections`; undefined: unlimited */
  readonly limits?: RequestLimits | undefined;
  /** `affinity: cookie`; wins over upstream-hash-by and the Service's ClientIP affinity */
  readonly sessionCookie?: SessionCookieSettings | undefined;
  /** `upstream-hash-by`; wins over the Service's ClientIP affinity */
  readonly upstreamHashBy?: HashKeyTemplate | undefined;
  /** `load-balance`; undefined: the global `--load-balance` */
  readonly loadBalance?: LoadBalanceAlgorithm | undefined;
  /** `auth-type: basic` with its Secret, resolved at compile time */
  readonly auth?: RouteAuth | undefined;
}

/** Local request limits per client address, one zone per Ingress (ingress-nginx `limit-*`). */
export interface RequestLimits {
  /** `ns/name` of the Ingress: its clients are counted apart from other Ingresses' */
  readonly zone: string;
  /** requests per second; undefined: none */
  readonly rps: number | undefined;
  /** requests per minute; undefined: none */
  readonly rpm: number | undefined;
  /** burst = rate × this (`limit-burst-multiplier`, default 5) */
  readonly burstMultiplier: number;
  /** requests in flight at once per client address; undefined: none */
  readonly connections: number | undefined;
  /** `limit-allowlist` / `limit-whitelist`: client ranges that are never limited */
  readonly exempt: readonly SourceRange[] | undefined;
}

/** The attributes that choose an endpoint; a canary Ingress brings its own (ingress-nginx). */
export type SelectionAttributes = Pick<RouteAttributes, 'sessionCookie' | 'upstreamHashBy' | 'loadBalance'>;

/** A linear-time compiled pattern; `exec` returns the groups ($0..$n) or null. */
export interface PathPattern {
  readonly source: string;
  exec(path: string): readonly (string | undefined)[] | null;
}

/** A linear-time header pattern (canary-by-header-pattern): unanchored search. */
export interface HeaderPattern {
  readonly source: string;
  test(value: string): boolean;
}

/** The canary attached to a main route (ROUTING.md section 7). */
export interface CanaryRule {
  /** `ns/name` of the canary Ingress */
  readonly ingress: string;
  readonly backend: ResolvedBackend;
  /** lowercase header name */
  readonly byHeader: string | undefined;
  readonly byHeaderValue: string | undefined;
  readonly byHeaderPattern: HeaderPattern | undefined;
  readonly byCookie: string | undefined;
  /** out of weightTotal: 0 never, weightTotal always */
  readonly weight: number;
  readonly weightTotal: number;
  /** the canary Ingress's own affinity, upstream-hash-by and load-balance, for its backend */
  readonly selection?: SelectionAttributes | undefined;
}

export interface Route {
  /** `ns/name` of the Ingress that declared it */
  readonly ingress: string;
  readonly host: string;
  readonly path: string;
  readonly pathType: IngressPathType;
  readonly match: PathMatchKind;
  readonly pattern: PathPattern | undefined;
  /**
   * section 4 rank of the declaring Ingress among those with rules for this host: lower is
   * older. Only routes of one host are ever compared, and a rank local to the host lets an
   * unchanged host keep its routes when Ingresses elsewhere come and go.
   */
  readonly ingressRank: number;
  readonly backend: ResolvedBackend;
  readonly attributes: RouteAttributes;
  /** at most one canary per route */
  readonly canary?: CanaryRule | undefined;
}

export interface HostDefaultBackend {
  readonly ingress: string;
  readonly backend: ResolvedBackend;
}

export interface HostTls {
  /** the Ingress that owns the host's TLS (oldest wins) */
  readonly ingress: string;
  /** `ns/name` of the Secret, or undefined when the entry has no secretName */
  readonly secretKey: string | undefined;
  readonly attributes: RouteAttributes;
}

/** Everything compiled for one host entry: exact host, one-label wildcard, or host-less. */
export interface HostRoutes {
  /** `foo.com`, `*.foo.com`, or '' for host-less rules */
  readonly host: string;
  readonly lookup: PathLookup;
  readonly routes: readonly Route[];
  readonly defaultBackend: HostDefaultBackend | undefined;
  readonly tls: HostTls | undefined;
}

/** Finds the winning route among one host entry's routes for a normalized path. */
export interface PathLookup {
  find(path: string): PathMatch | undefined;
}

export interface PathMatch {
  readonly route: Route;
  /** regex groups $0..$n when the route is a regex route */
  readonly groups: readonly (string | undefined)[] | undefined;
}

export interface RouteTable {
  readonly exactHosts: ReadonlyMap<string, HostRoutes>;
  /** keyed by the suffix after `*.` */
  readonly wildcardHosts: ReadonlyMap<string, HostRoutes>;
  readonly hostless: HostRoutes | undefined;
  /** from the oldest Ingress with a defaultBackend and no rules */
  readonly catchAll: HostDefaultBackend | undefined;
  /** every host named in a served Ingress's `spec.tls`, exact or wildcard, oldest Ingress winning */
  readonly tlsHosts: ReadonlyMap<string, HostTls>;
  /**
   * The certificate of each TLS host, filled in by the TLS step after compile
   * (src/tls/compile-with-tls.ts); absent where no TLS step ran (`portico explain`, some tests).
   */
  readonly certificates?: TlsCertificates | undefined;
  /** `ns/name` of every Ingress this table serves (for status writing) */
  readonly servedIngresses: readonly string[];
  readonly routeCount: number;
}
