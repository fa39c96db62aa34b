// Every ingress-nginx annotation Portico has an answer for, with that answer. README.md's
// annotation table is checked against this list (test/compile/annotation-catalog.test.ts),
// and any other `nginx.ingress.kubernetes.io/*` annotation gets a generic
// UnsupportedAnnotation diagnostic, so nothing on an Ingress is silently ignored.

import {
  AUTH_ANNOTATIONS,
  CANARY_ANNOTATIONS,
  REFUSED_ANNOTATIONS,
  ROUTE_ANNOTATIONS,
  SELECTION_ANNOTATIONS,
} from './annotation-registry.ts';

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
    note: "HTTP, HTTPS, AUTO_HTTP (the client's scheme: HTTP/1.1 or TLS), GRPC (HTTP/2 cleartext) and GRPCS (HTTP/2 over TLS, ALPN h2), trailers relayed; FCGI is refused with a diagnostic",
  },
  { name: 'proxy-ssl-verify', status: 'supported', note: 'off by default, as ingress-nginx' },
  { name: 'proxy-ssl-name', status: 'supported', note: '' },
  { name: 'proxy-ssl-secret', status: 'supported', note: '' },
  {
    name: 'proxy-body-size',
    status: 'differs',
    note: 'larger bodies get 413 (Content-Length up front, chunked while streaming); without the annotation the limit is unlimited, unlike the 1m default of ingress-nginx',
  },
  {
    name: 'proxy-connect-timeout',
    status: 'supported',
    note: 'whole seconds (1-3600); 504; the route gets connection pools of its own',
  },
  {
    name: 'proxy-read-timeout',
    status: 'supported',
    note: 'whole seconds (1-3600); to the response headers and between body chunks, 504',
  },
  {
    name: 'proxy-send-timeout',
    status: 'supported',
    note: 'whole seconds (1-3600); the upstream not taking the request body, 504',
  },
  {
    name: 'proxy-next-upstream',
    status: 'differs',
    note: 'nginx tokens; default error plus connect timeout (not read timeouts); never the same endpoint twice; never after a response byte reached the client or once a request body started to flow; http_* retries only requests without a body',
  },
  {
    name: 'proxy-next-upstream-tries',
    status: 'supported',
    note: 'attempts in all, default 3; 0 = one per ready endpoint',
  },
  {
    name: 'proxy-next-upstream-timeout',
    status: 'supported',
    note: 'whole seconds since the request arrived after which no new attempt starts; 0 (default) = no limit',
  },
  {
    name: 'service-upstream',
    status: 'supported',
    note: 'the ClusterIP and Service port, no retry elsewhere; ExternalName unchanged; headless Services: diagnostic, endpoints used',
  },
  {
    name: 'permanent-redirect',
    status: 'differs',
    note: 'answers every request of the path before app-root and the HTTPS redirect; Location is the value exactly (no $request_uri or other variables)',
  },
  { name: 'permanent-redirect-code', status: 'supported', note: '300 to 308; default 301' },
  {
    name: 'temporal-redirect',
    status: 'differs',
    note: '302 or temporal-redirect-code; permanent-redirect wins when both are set; Location is the value exactly (no variables)',
  },
  { name: 'temporal-redirect-code', status: 'supported', note: '300 to 308; default 302' },
  {
    name: 'whitelist-source-range',
    status: 'differs',
    note: 'old name of allowlist-source-range (which wins when both are set); same rules',
  },
  {
    name: 'allowlist-source-range',
    status: 'differs',
    note: "403 outside the ranges; the client address is the socket's, or from X-Forwarded-For / the PROXY header of --trust-forwarded-from peers only; one bad entry ignores the whole list",
  },
  {
    name: 'denylist-source-range',
    status: 'differs',
    note: '403 inside the ranges, checked before the allowlist; client address as for allowlist-source-range; one bad entry ignores the whole list',
  },
  {
    name: 'enable-cors',
    status: 'differs',
    note: 'a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin gets 204 from Portico, never the backend; the Access-Control-* fields go only on responses to requests with an allowed Origin (ingress-nginx with * adds them to every response and answers every OPTIONS); preflights count against limit-*',
  },
  {
    name: 'cors-allow-origin',
    status: 'differs',
    note: 'default *, answered as *; a listed origin (https://*.example.com: one label) is echoed, matched whole and case-insensitively; one bad entry ignores the whole list',
  },
  { name: 'cors-allow-methods', status: 'supported', note: 'default GET, PUT, POST, DELETE, PATCH, OPTIONS' },
  {
    name: 'cors-allow-headers',
    status: 'supported',
    note: 'default DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  },
  { name: 'cors-expose-headers', status: 'supported', note: 'default none' },
  { name: 'cors-allow-credentials', status: 'supported', note: 'default true' },
  { name: 'cors-max-age', status: 'supported', note: 'default 1728000 seconds' },
  {
    name: 'custom-http-errors',
    status: 'differs',
    note: 'codes 400-599; the upstream answer is dropped and the default-backend asked with GET / (HEAD stays HEAD), no body, X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID; its body goes out with the original status (ingress-nginx passes on the error backend status); without default-backend Portico answers the status with a short text body (it has no global default backend)',
  },
  {
    name: 'default-backend',
    status: 'supported',
    note: 'a Service in the Ingress namespace, its first port; serves the Ingress paths whose Service has no ready endpoint (or does not exist), and custom-http-errors; a missing Service gets a diagnostic and the annotation is ignored',
  },
  {
    name: 'limit-rps',
    status: 'differs',
    note: 'per client address and Ingress, in this process (nginx limit_req, nodelay); burst = rate × limit-burst-multiplier; refusals get --limit-status-code (503; 429 if you prefer); at most 100,000 client addresses remembered, least recently seen forgotten first',
  },
  { name: 'limit-rpm', status: 'differs', note: 'as limit-rps, per minute; both apply when both are set' },
  {
    name: 'limit-connections',
    status: 'supported',
    note: 'requests in flight (open WebSockets included) per client address and Ingress, in this process; refusals get --limit-status-code (503)',
  },
  { name: 'limit-burst-multiplier', status: 'supported', note: 'default 5' },
  {
    name: 'limit-allowlist',
    status: 'supported',
    note: 'CIDRs never limited; one bad entry ignores the whole list',
  },
  {
    name: 'limit-whitelist',
    status: 'supported',
    note: 'old name of limit-allowlist (which wins when both are set)',
  },
  {
    name: 'affinity',
    status: 'differs',
    note: 'cookie only (as ingress-nginx); the cookie value never reveals the endpoint (see Session affinity); WebSocket upgrades follow the cookie but get no Set-Cookie on the 101',
  },
  {
    name: 'affinity-mode',
    status: 'differs',
    note: "persistent: moves only when its endpoint leaves; balanced (default): rendezvous hashing, so a scale-up moves about 1/n of sessions rather than ingress-nginx's ring share",
  },
  {
    name: 'affinity-canary-behavior',
    status: 'unsupported',
    note: 'the canary decision comes first; a persistent cookie set by the main backend does not keep a session off a weighted canary',
  },
  { name: 'session-cookie-name', status: 'supported', note: 'default INGRESSCOOKIE' },
  {
    name: 'session-cookie-path',
    status: 'supported',
    note: 'default: the matched path; with regex paths it is needed (a diagnostic, and Path=/, without it)',
  },
  { name: 'session-cookie-domain', status: 'supported', note: '' },
  { name: 'session-cookie-max-age', status: 'supported', note: 'whole seconds' },
  { name: 'session-cookie-expires', status: 'supported', note: 'whole seconds from now' },
  {
    name: 'session-cookie-samesite',
    status: 'supported',
    note: 'Strict, Lax or None; None adds Secure, which browsers require',
  },
  {
    name: 'session-cookie-conditional-samesite-none',
    status: 'supported',
    note: 'SameSite=None is left off for the browsers Chromium lists as rejecting it',
  },
  { name: 'session-cookie-secure', status: 'supported', note: 'cookies on HTTPS requests are Secure anyway' },
  {
    name: 'session-cookie-change-on-failure',
    status: 'differs',
    note: 'a failed attempt is retried on another endpoint either way; with "true" the session moves there (new cookie)',
  },
  {
    name: 'session-cookie-hash',
    status: 'unsupported',
    note: 'removed from ingress-nginx; the value is always a keyed SHA-256 HMAC (persistent) or a random key (balanced)',
  },
  {
    name: 'upstream-hash-by',
    status: 'differs',
    note: 'rendezvous hashing; variables $remote_addr, $request_uri, $http_<name>, $cookie_<name> with literal text; any other variable is refused with a diagnostic',
  },
  {
    name: 'upstream-hash-by-subset',
    status: 'unsupported',
    note: 'hashing to a subset then picking at random within it trades stickiness for spread; use upstream-hash-by',
  },
  {
    name: 'upstream-hash-by-subset-size',
    status: 'unsupported',
    note: 'belongs to upstream-hash-by-subset, which is not supported',
  },
  {
    name: 'load-balance',
    status: 'supported',
    note: 'round_robin or ewma; the retired least_conn, ip_hash and chash are refused with a diagnostic',
  },
  {
    name: 'auth-type',
    status: 'differs',
    note: 'basic only; digest (and any other value) makes the paths answer 503 with a diagnostic, as a location ingress-nginx cannot protect',
  },
  {
    name: 'auth-secret',
    status: 'differs',
    note: "name or namespace/name, in the Ingress's own namespace only (ingress-nginx's allow-cross-namespace-resources default); an Opaque Secret; missing Secret or key, or no usable user: 503 with a diagnostic",
  },
  {
    name: 'auth-secret-type',
    status: 'differs',
    note: 'auth-file (key auth) or auth-map; hashes bcrypt, $apr1$, {SHA} and {PLAIN}; other crypt schemes are skipped by line number with a diagnostic',
  },
  { name: 'auth-realm', status: 'differs', note: 'unset: "Authentication Required"' },
  {
    name: 'auth-url',
    status: 'unsupported',
    note: 'external authentication is not implemented; the paths answer 503 rather than go unprotected',
  },
  ...[...REFUSED_ANNOTATIONS.keys()].map((name) => ({ name, status: 'unsupported' as const, note: SNIPPET_NOTE })),
]);

/** Names the compiler reads (supported or differing): every spec of the registry. */
export function registryAnnotationNames(): string[] {
  return [
    ...Object.values(ROUTE_ANNOTATIONS),
    ...Object.values(CANARY_ANNOTATIONS),
    ...Object.values(SELECTION_ANNOTATIONS),
    ...Object.values(AUTH_ANNOTATIONS),
  ].map((spec) => spec.name);
}

const KNOWN: ReadonlyMap<string, CatalogEntry> = new Map(ANNOTATION_CATALOG.map((entry) => [entry.name, entry]));

export function isCatalogued(name: string): boolean {
  return KNOWN.has(name);
}

export function catalogEntry(name: string): CatalogEntry | undefined {
  return KNOWN.get(name);
}
