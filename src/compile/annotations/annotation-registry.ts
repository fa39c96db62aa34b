// Every ingress-nginx annotation Portico reads, declared once with its strict value grammar
// (Traefik's habit: one typed table; unset differs from false). A value that does not parse
// rejects that annotation alone with a diagnostic; nothing from a value becomes config text.

import type { LoadBalanceAlgorithm } from '../../endpoints/endpoint-picker.ts';
import type { CorsOrigin } from '../../routing/cors-policy.ts';
import { type HashKeyTemplate, parseHashKeyTemplate } from '../../routing/hash-key.ts';
import { type NextUpstreamConditions, NO_RETRY_CONDITIONS } from '../../routing/next-upstream.ts';
import type { BackendProtocol, CookieSameSite } from '../../routing/route-table.ts';
import { parseSourceRange, type SourceRange } from '../../routing/source-range.ts';

export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';

export type ParsedValue<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export interface AnnotationSpec<T> {
  /** name without the `nginx.ingress.kubernetes.io/` prefix */
  readonly name: string;
  readonly parse: (raw: string) => ParsedValue<T>;
}

function ok<T>(value: T): ParsedValue<T> {
  return { ok: true, value };
}

function fail<T>(reason: string): ParsedValue<T> {
  return { ok: false, reason };
}

export function parseBoolean(raw: string): ParsedValue<boolean> {
  const value = raw.trim().toLowerCase();
  if (value === 'true') return ok(true);
  if (value === 'false') return ok(false);
  return fail(`must be "true" or "false", got ${JSON.stringify(raw)}`);
}

const MAX_PATH_VALUE_LENGTH = 1024;
// A URL path: printable ASCII without spaces, quotes, braces or backslashes.
const SAFE_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const SAFE_REWRITE = /^\/?[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*$/;
const VHOST = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*(:\d{1,5})?$/;

export function parseUrlPath(raw: string): ParsedValue<string> {
  if (raw.length > MAX_PATH_VALUE_LENGTH) return fail(`is longer than ${MAX_PATH_VALUE_LENGTH} characters`);
  return SAFE_PATH.test(raw) ? ok(raw) : fail(`must be a URL path starting with /, got ${JSON.stringify(raw)}`);
}

export function parseRewriteTarget(raw: string): ParsedValue<string> {
  if (raw.length > MAX_PATH_VALUE_LENGTH) return fail(`is longer than ${MAX_PATH_VALUE_LENGTH} characters`);
  return SAFE_REWRITE.test(raw) && raw.length > 0
    ? ok(raw)
    : fail(`must be a URL path (with $1..$9 references), got ${JSON.stringify(raw)}`);
}

export function parseHostName(raw: string): ParsedValue<string> {
  return raw.length <= 253 && VHOST.test(raw) ? ok(raw) : fail(`must be a host name, got ${JSON.stringify(raw)}`);
}

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$/;
const HEADER_VALUE = /^[\x20-\x7e]{1,1024}$/;
const MAX_WEIGHT_TOTAL = 1_000_000;

/** An HTTP header or cookie name (RFC 9110 token). */
export function parseToken(raw: string): ParsedValue<string> {
  return TOKEN.test(raw) ? ok(raw) : fail(`must be a header or cookie name (a token), got ${JSON.stringify(raw)}`);
}

export function parseHeaderValue(raw: string): ParsedValue<string> {
  return HEADER_VALUE.test(raw) ? ok(raw) : fail(`must be printable ASCII, 1-1024 characters`);
}

export function parseNonNegativeInteger(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,7}$/.test(trimmed) || Number(trimmed) > MAX_WEIGHT_TOTAL) {
    return fail(`must be a whole number from 0 to ${MAX_WEIGHT_TOTAL}, got ${JSON.stringify(raw)}`);
  }
  return ok(Number(trimmed));
}

/** `backend-protocol`: the values ingress-nginx accepts, of which Portico speaks all but FCGI. */
export function parseBackendProtocol(raw: string): ParsedValue<BackendProtocol> {
  const value = raw.trim().toUpperCase();
  if (value === 'HTTP' || value === 'HTTPS' || value === 'GRPC' || value === 'GRPCS' || value === 'AUTO_HTTP') {
    return ok(value);
  }
  if (value === 'FCGI') {
    return fail(
      `${JSON.stringify(raw)} is not supported (Portico speaks HTTP, HTTPS, AUTO_HTTP, GRPC and GRPCS to backends; no FastCGI)`,
    );
  }
  return fail(`must be HTTP, HTTPS, AUTO_HTTP, GRPC or GRPCS, got ${JSON.stringify(raw)}`);
}

/** ingress-nginx's on/off switches (`proxy-ssl-verify`). */
export function parseOnOff(raw: string): ParsedValue<boolean> {
  const value = raw.trim().toLowerCase();
  if (value === 'on') return ok(true);
  if (value === 'off') return ok(false);
  return fail(`must be "on" or "off", got ${JSON.stringify(raw)}`);
}

const SERVER_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

/** A DNS name without a port (TLS SNI, RFC 6066 section 3). */
export function parseServerName(raw: string): ParsedValue<string> {
  return raw.length <= 253 && SERVER_NAME.test(raw)
    ? ok(raw.toLowerCase())
    : fail(`must be a DNS name, got ${JSON.stringify(raw)}`);
}

const NAMESPACED_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

/** `namespace/name` of an object. */
export function parseNamespacedName(raw: string): ParsedValue<string> {
  return NAMESPACED_NAME.test(raw) ? ok(raw) : fail(`must be namespace/name, got ${JSON.stringify(raw)}`);
}

const MAX_BODY_SIZE = 1024 ** 4;
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** nginx size grammar (`proxy-body-size`): digits with an optional k/m/g suffix; 0 = unlimited. */
export function parseSize(raw: string): ParsedValue<number> {
  const match = /^(\d{1,13})([kKmMgG]?)$/.exec(raw.trim());
  if (!match) return fail(`must be a size such as 1m, 512k or 0 (unlimited), got ${JSON.stringify(raw)}`);
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] as string).toLowerCase()] as number);
  return bytes <= MAX_BODY_SIZE ? ok(bytes) : fail(`is larger than 1024g`);
}

/** ingress-nginx proxy timeouts: whole seconds, 1 to 3600; returned in milliseconds. */
export function parseTimeoutSeconds(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,4}$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > 3600)
    return fail(`must be whole seconds from 1 to 3600, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed) * 1000);
}

// An absolute http(s) URL of printable ASCII without spaces, quotes, angle brackets or backslashes.
const REDIRECT_URL = /^https?:\/\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#[\]]+$/;

/** `permanent-redirect` / `temporal-redirect`: sent as `Location` exactly as written. */
export function parseRedirectUrl(raw: string): ParsedValue<string> {
  if (raw.length > MAX_PATH_VALUE_LENGTH) return fail(`is longer than ${MAX_PATH_VALUE_LENGTH} characters`);
  if (!REDIRECT_URL.test(raw)) return fail(`must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  try {
    const url = new URL(raw);
    if (url.hostname === '') return fail(`must name a host, got ${JSON.stringify(raw)}`);
  } catch {
    return fail(`must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return ok(raw);
}

/** `permanent-redirect-code` and `temporal-redirect-code`: 300 to 308. */
export function parseRedirectCode(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  const code = Number(trimmed);
  return /^\d{3}$/.test(trimmed) && code >= 300 && code <= 308
    ? ok(code)
    : fail(`must be a redirect status from 300 to 308, got ${JSON.stringify(raw)}`);
}

/** `proxy-next-upstream-timeout`: whole seconds from 0 (no limit) to 3600; returned in milliseconds. */
export function parseRetryTimeoutSeconds(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,4}$/.test(trimmed) || Number(trimmed) > 3600)
    return fail(`must be whole seconds from 0 (no limit) to 3600, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed) * 1000);
}

const MAX_TRIES = 100;

/** `proxy-next-upstream-tries`: attempts in all, first one included; 0 = as many as there are endpoints. */
export function parseTries(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,3}$/.test(trimmed) || Number(trimmed) > MAX_TRIES)
    return fail(`must be a whole number from 0 (no limit) to ${MAX_TRIES}, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed));
}

const NEXT_UPSTREAM_STATUSES: ReadonlySet<string> = new Set(['500', '502', '503', '504', '403', '404', '429']);

/**
 * `proxy-next-upstream`: space-separated nginx tokens (`error timeout invalid_header http_500
 * http_502 http_503 http_504 http_403 http_404 http_429 non_idempotent`), or `off` alone.
 */
export function parseNextUpstream(raw: string): ParsedValue<NextUpstreamConditions> {
  const tokens = raw.trim().split(/\s+/);
  if (tokens.length > 32 || tokens[0] === '')
    return fail(`must list nginx proxy_next_upstream tokens, got ${JSON.stringify(raw)}`);
  if (tokens.includes('off')) {
    return tokens.length === 1
      ? ok(NO_RETRY_CONDITIONS)
      : fail(`"off" cannot be combined with other tokens, got ${JSON.stringify(raw)}`);
  }
  let error = false;
  let timeout = false;
  let invalidHeader = false;
  let nonIdempotent = false;
  const statuses = new Set<number>();
  for (const token of tokens) {
    if (token === 'error') error = true;
    else if (token === 'timeout') timeout = true;
    else if (token === 'invalid_header') invalidHeader = true;
    else if (token === 'non_idempotent') nonIdempotent = true;
    else if (token.startsWith('http_') && NEXT_UPSTREAM_STATUSES.has(token.slice(5)))
      statuses.add(Number(token.slice(5)));
    else
      return fail(
        `has ${JSON.stringify(token)}; allowed: error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off`,
      );
  }
  return ok(
    Object.freeze({
      error,
      connectTimeout: timeout,
      exchangeTimeout: timeout,
      invalidHeader,
      statuses: Object.freeze([...statuses].sort()),
      nonIdempotent,
    }),
  );
}

const MAX_SOURCE_RANGES = 1000;

/** Comma-separated IPv4/IPv6 CIDRs or addresses; one bad entry rejects the whole list. */
export function parseSourceRanges(raw: string): ParsedValue<readonly SourceRange[]> {
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.length > MAX_SOURCE_RANGES) return fail(`has more than ${MAX_SOURCE_RANGES} entries`);
  const ranges: SourceRange[] = [];
  for (const entry of entries) {
    const range = parseSourceRange(entry);
    if (range === undefined) return fail(`has ${JSON.stringify(entry)}, which is not an IP address or CIDR`);
    ranges.push(range);
  }
  return ok(Object.freeze(ranges));
}

const MAX_LIST_ENTRIES = 100;

/** Splits a comma list; empty entries (`a,,b`, a trailing comma) make it invalid. */
function splitCommaList(raw: string): string[] | undefined {
  const entries = raw.split(',').map((entry) => entry.trim());
  return entries.length <= MAX_LIST_ENTRIES && entries.every((entry) => entry !== '') ? entries : undefined;
}

// An origin as browsers send it (RFC 6454 section 6.1): scheme://host[:port]; the host may
// start with `*.` for one label of wildcard, as ingress-nginx allows.
const CORS_ORIGIN =
  /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*)(:\d{1,5})?$/;

/** `cors-allow-origin`: `*`, or a comma list of origins (wildcard subdomains allowed). */
export function parseCorsOrigins(raw: string): ParsedValue<readonly CorsOrigin[] | '*'> {
  const entries = splitCommaList(raw);
  if (entries === undefined) return fail(`must be * or a comma list of origins, got ${JSON.stringify(raw)}`);
  if (entries.includes('*')) return entries.length === 1 ? ok('*') : fail('mixes * with origins');
  const origins: CorsOrigin[] = [];
  for (const entry of entries) {
    const match = CORS_ORIGIN.exec(entry.toLowerCase());
    if (!match) return fail(`has ${JSON.stringify(entry)}, which is not an origin such as https://example.com:8443`);
    origins.push(
      Object.freeze({
        scheme: match[1] as string,
        wildcard: match[2] !== undefined,
        host: match[3] as string,
        port: match[7] ?? '',
      }),
    );
  }
  return ok(Object.freeze(origins));
}

const METHOD = /^[A-Za-z]{1,32}$/;
const CORS_HEADER = /^[A-Za-z0-9_-]{1,128}$/;

function parseWordList(raw: string, word: RegExp, what: string, allowStar: boolean): ParsedValue<string> {
  const entries = splitCommaList(raw);
  if (entries === undefined || !entries.every((entry) => word.test(entry) || (allowStar && entry === '*')))
    return fail(`must be a comma list of ${what}, got ${JSON.stringify(raw)}`);
  return ok(entries.join(', '));
}

/** `cors-allow-methods`: letters only, as ingress-nginx. */
export function parseCorsMethods(raw: string): ParsedValue<string> {
  return parseWordList(raw, METHOD, 'method names', false);
}

/** `cors-allow-headers`: letters, digits, `_` and `-`, as ingress-nginx. */
export function parseCorsHeaders(raw: string): ParsedValue<string> {
  return parseWordList(raw, CORS_HEADER, 'header names', false);
}

/** `cors-expose-headers`: as the allow list, plus `*`. */
export function parseCorsExposeHeaders(raw: string): ParsedValue<string> {
  return parseWordList(raw, CORS_HEADER, 'header names (or *)', true);
}

/** Whole seconds, 0 to 2^31-1 (`cors-max-age`). */
export function parseSeconds(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,10}$/.test(trimmed) || Number(trimmed) > 2 ** 31 - 1)
    return fail(`must be whole seconds, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed));
}

/** `custom-http-errors`: a comma list of 4xx/5xx codes. */
export function parseErrorCodes(raw: string): ParsedValue<readonly number[]> {
  const entries = splitCommaList(raw);
  if (entries === undefined || !entries.every((entry) => /^[45]\d\d$/.test(entry)))
    return fail(`must be a comma list of status codes from 400 to 599, got ${JSON.stringify(raw)}`);
  return ok(Object.freeze([...new Set(entries.map(Number))]));
}

const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `default-backend`: a Service name (RFC 1035 label) in the Ingress's namespace. */
export function parseServiceName(raw: string): ParsedValue<string> {
  const trimmed = raw.trim();
  return SERVICE_NAME.test(trimmed) ? ok(trimmed) : fail(`must be a Service name, got ${JSON.stringify(raw)}`);
}

const MAX_LIMIT = 1_000_000;

/** `limit-rps`, `limit-rpm`, `limit-connections`: whole numbers; 0 turns the limit off, as ingress-nginx. */
export function parseLimit(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,7}$/.test(trimmed) || Number(trimmed) > MAX_LIMIT)
    return fail(`must be a whole number from 0 to ${MAX_LIMIT}, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed));
}

/** `limit-burst-multiplier`: a whole number from 1 to 1000. */
export function parseBurstMultiplier(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  if (!/^\d{1,4}$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > 1000)
    return fail(`must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
  return ok(Number(trimmed));
}

/** `affinity`: ingress-nginx knows only `cookie`. */
export function parseAffinity(raw: string): ParsedValue<'cookie'> {
  return raw.trim() === 'cookie'
    ? ok('cookie')
    : fail(`must be "cookie" (the only affinity type), got ${JSON.stringify(raw)}`);
}

export function parseAffinityMode(raw: string): ParsedValue<'balanced' | 'persistent'> {
  const value = raw.trim();
  return value === 'balanced' || value === 'persistent'
    ? ok(value)
    : fail(`must be "balanced" or "persistent", got ${JSON.stringify(raw)}`);
}

// A cookie Path: a URL path without `;` or `,` (which would end the attribute, RFC 6265
// section 4.1.1), so a value can never add attributes of its own.
const COOKIE_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+=:@/%]*$/;

export function parseCookiePath(raw: string): ParsedValue<string> {
  if (raw.length > MAX_PATH_VALUE_LENGTH) return fail(`is longer than ${MAX_PATH_VALUE_LENGTH} characters`);
  return COOKIE_PATH.test(raw)
    ? ok(raw)
    : fail(`must be a URL path starting with / without ; or , got ${JSON.stringify(raw)}`);
}

const COOKIE_DOMAIN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

export function parseCookieDomain(raw: string): ParsedValue<string> {
  return raw.length <= 254 && COOKIE_DOMAIN.test(raw)
    ? ok(raw.toLowerCase())
    : fail(`must be a domain name, got ${JSON.stringify(raw)}`);
}

const MAX_COOKIE_SECONDS = 2_147_483_647;

/** `session-cookie-max-age` / `-expires`: whole seconds, at least 1. */
export function parseCookieSeconds(raw: string): ParsedValue<number> {
  const trimmed = raw.trim();
  return /^\d{1,10}$/.test(trimmed) && Number(trimmed) >= 1 && Number(trimmed) <= MAX_COOKIE_SECONDS
    ? ok(Number(trimmed))
    : fail(`must be whole seconds from 1 to ${MAX_COOKIE_SECONDS}, got ${JSON.stringify(raw)}`);
}

export function parseSameSite(raw: string): ParsedValue<CookieSameSite> {
  const value = raw.trim().toLowerCase();
  if (value === 'strict') return ok('Strict');
  if (value === 'lax') return ok('Lax');
  if (value === 'none') return ok('None');
  return fail(`must be Strict, Lax or None, got ${JSON.stringify(raw)}`);
}

/** `upstream-hash-by`: see src/routing/hash-key.ts for the variables Portico evaluates. */
export function parseUpstreamHashBy(raw: string): ParsedValue<HashKeyTemplate> {
  const parsed = parseHashKeyTemplate(raw.trim());
  return parsed.ok ? ok(parsed.template) : fail(parsed.reason);
}

/** `load-balance` per Ingress; the algorithms ingress-nginx dropped are named as such. */
export function parseLoadBalance(raw: string): ParsedValue<LoadBalanceAlgorithm> {
  const value = raw.trim();
  if (value === 'round_robin' || value === 'ewma') return ok(value);
  if (value === 'ip_hash') return fail('"ip_hash" is not supported: use upstream-hash-by: "$remote_addr"');
  if (value === 'least_conn' || value === 'chash' || value === 'sticky')
    return fail(`${JSON.stringify(raw)} is not supported: use round_robin or ewma (or upstream-hash-by / affinity)`);
  return fail(`must be round_robin or ewma, got ${JSON.stringify(raw)}`);
}

const SECRET_NAME = /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `auth-secret`: `name` (the Ingress's namespace) or `namespace/name`. */
export function parseSecretReference(
  raw: string,
): ParsedValue<{ readonly namespace: string | undefined; readonly name: string }> {
  const value = raw.trim();
  const slash = value.indexOf('/');
  const namespace = slash < 0 ? undefined : value.slice(0, slash);
  const name = slash < 0 ? value : value.slice(slash + 1);
  if ((namespace === undefined || NAMESPACE_NAME.test(namespace)) && SECRET_NAME.test(name)) {
    return ok({ namespace, name });
  }
  return fail(`must be a Secret name or namespace/name, got ${JSON.stringify(raw)}`);
}

/** `auth-type`: ingress-nginx reads basic and digest; Portico answers basic only. */
export function parseAuthType(raw: string): ParsedValue<'basic'> {
  const value = raw.trim().toLowerCase();
  if (value === 'basic') return ok('basic');
  if (value === 'digest') {
    return fail('"digest" is not supported (HTTP Digest rests on MD5 and is rarely used; use basic over HTTPS)');
  }
  return fail(`must be "basic", got ${JSON.stringify(raw)}`);
}

/** `auth-secret-type`: the htpasswd file in key `auth`, or one key per user. */
export function parseAuthSecretType(raw: string): ParsedValue<'auth-file' | 'auth-map'> {
  const value = raw.trim();
  return value === 'auth-file' || value === 'auth-map'
    ? ok(value)
    : fail(`must be "auth-file" or "auth-map", got ${JSON.stringify(raw)}`);
}

/** `auth-realm`: goes into `WWW-Authenticate: Basic realm="..."`, so no quotes or backslashes. */
export function parseAuthRealm(raw: string): ParsedValue<string> {
  return /^[\x20\x21\x23-\x5b\x5d-\x7e]{0,256}$/.test(raw)
    ? ok(raw)
    : fail('must be printable ASCII without quotes or backslashes, at most 256 characters');
}

/** The attribute annotations of ROUTING.md section 7, in one table. */
export const ROUTE_ANNOTATIONS = {
  rewriteTarget: { name: 'rewrite-target', parse: parseRewriteTarget },
  useRegex: { name: 'use-regex', parse: parseBoolean },
  xForwardedPrefix: { name: 'x-forwarded-prefix', parse: parseUrlPath },
  appRoot: { name: 'app-root', parse: parseUrlPath },
  sslRedirect: { name: 'ssl-redirect', parse: parseBoolean },
  forceSslRedirect: { name: 'force-ssl-redirect', parse: parseBoolean },
  upstreamVhost: { name: 'upstream-vhost', parse: parseHostName },
  backendProtocol: { name: 'backend-protocol', parse: parseBackendProtocol },
  proxySslVerify: { name: 'proxy-ssl-verify', parse: parseOnOff },
  proxySslName: { name: 'proxy-ssl-name', parse: parseServerName },
  proxySslSecret: { name: 'proxy-ssl-secret', parse: parseNamespacedName },
  proxyBodySize: { name: 'proxy-body-size', parse: parseSize },
  proxyReadTimeout: { name: 'proxy-read-timeout', parse: parseTimeoutSeconds },
  proxySendTimeout: { name: 'proxy-send-timeout', parse: parseTimeoutSeconds },
  proxyConnectTimeout: { name: 'proxy-connect-timeout', parse: parseTimeoutSeconds },
  proxyNextUpstream: { name: 'proxy-next-upstream', parse: parseNextUpstream },
  proxyNextUpstreamTries: { name: 'proxy-next-upstream-tries', parse: parseTries },
  proxyNextUpstreamTimeout: { name: 'proxy-next-upstream-timeout', parse: parseRetryTimeoutSeconds },
  serviceUpstream: { name: 'service-upstream', parse: parseBoolean },
  permanentRedirect: { name: 'permanent-redirect', parse: parseRedirectUrl },
  permanentRedirectCode: { name: 'permanent-redirect-code', parse: parseRedirectCode },
  temporalRedirect: { name: 'temporal-redirect', parse: parseRedirectUrl },
  temporalRedirectCode: { name: 'temporal-redirect-code', parse: parseRedirectCode },
  whitelistSourceRange: { name: 'whitelist-source-range', parse: parseSourceRanges },
  allowlistSourceRange: { name: 'allowlist-source-range', parse: parseSourceRanges },
  denylistSourceRange: { name: 'denylist-source-range', parse: parseSourceRanges },
  enableCors: { name: 'enable-cors', parse: parseBoolean },
  corsAllowOrigin: { name: 'cors-allow-origin', parse: parseCorsOrigins },
  corsAllowMethods: { name: 'cors-allow-methods', parse: parseCorsMethods },
  corsAllowHeaders: { name: 'cors-allow-headers', parse: parseCorsHeaders },
  corsExposeHeaders: { name: 'cors-expose-headers', parse: parseCorsExposeHeaders },
  corsAllowCredentials: { name: 'cors-allow-credentials', parse: parseBoolean },
  corsMaxAge: { name: 'cors-max-age', parse: parseSeconds },
  customHttpErrors: { name: 'custom-http-errors', parse: parseErrorCodes },
  defaultBackend: { name: 'default-backend', parse: parseServiceName },
  limitRps: { name: 'limit-rps', parse: parseLimit },
  limitRpm: { name: 'limit-rpm', parse: parseLimit },
  limitConnections: { name: 'limit-connections', parse: parseLimit },
  limitBurstMultiplier: { name: 'limit-burst-multiplier', parse: parseBurstMultiplier },
  limitAllowlist: { name: 'limit-allowlist', parse: parseSourceRanges },
  limitWhitelist: { name: 'limit-whitelist', parse: parseSourceRanges },
} as const satisfies Record<string, AnnotationSpec<unknown>>;

/** Endpoint selection: cookie affinity, consistent hashing, the balancing algorithm. */
export const SELECTION_ANNOTATIONS = {
  affinity: { name: 'affinity', parse: parseAffinity },
  affinityMode: { name: 'affinity-mode', parse: parseAffinityMode },
  cookieName: { name: 'session-cookie-name', parse: parseToken },
  cookiePath: { name: 'session-cookie-path', parse: parseCookiePath },
  cookieDomain: { name: 'session-cookie-domain', parse: parseCookieDomain },
  cookieMaxAge: { name: 'session-cookie-max-age', parse: parseCookieSeconds },
  cookieExpires: { name: 'session-cookie-expires', parse: parseCookieSeconds },
  cookieSameSite: { name: 'session-cookie-samesite', parse: parseSameSite },
  cookieConditionalSameSiteNone: { name: 'session-cookie-conditional-samesite-none', parse: parseBoolean },
  cookieSecure: { name: 'session-cookie-secure', parse: parseBoolean },
  cookieChangeOnFailure: { name: 'session-cookie-change-on-failure', parse: parseBoolean },
  upstreamHashBy: { name: 'upstream-hash-by', parse: parseUpstreamHashBy },
  loadBalance: { name: 'load-balance', parse: parseLoadBalance },
} as const satisfies Record<string, AnnotationSpec<unknown>>;

/**
 * Basic authentication (ingress-nginx docs/examples/auth/basic). Unlike the annotations above,
 * a bad auth-type, auth-secret or auth-secret-type does not leave the paths open: they answer
 * 503, as ingress-nginx denies a location whose authentication it cannot set up.
 */
export const AUTH_ANNOTATIONS = {
  authType: { name: 'auth-type', parse: parseAuthType },
  authSecret: { name: 'auth-secret', parse: parseSecretReference },
  authSecretType: { name: 'auth-secret-type', parse: parseAuthSecretType },
  authRealm: { name: 'auth-realm', parse: parseAuthRealm },
} as const satisfies Record<string, AnnotationSpec<unknown>>;

/**
 * Canary annotations (ingress-nginx docs/examples/canary). The pattern's grammar is its RE2
 * compilation, checked where it is compiled; weights are checked against the total there too.
 */
export const CANARY_ANNOTATIONS = {
  canary: { name: 'canary', parse: parseBoolean },
  byHeader: { name: 'canary-by-header', parse: parseToken },
  byHeaderValue: { name: 'canary-by-header-value', parse: parseHeaderValue },
  byHeaderPattern: { name: 'canary-by-header-pattern', parse: parseHeaderValue },
  byCookie: { name: 'canary-by-cookie', parse: parseToken },
  weight: { name: 'canary-weight', parse: parseNonNegativeInteger },
  weightTotal: { name: 'canary-weight-total', parse: parseNonNegativeInteger },
} as const satisfies Record<string, AnnotationSpec<unknown>>;

/**
 * Annotations that inject raw proxy configuration. They were the root of ingress-nginx's
 * injection CVEs (CVE-2025-1974 and friends); Portico refuses them and says so.
 */
export const REFUSED_ANNOTATIONS: ReadonlyMap<string, string> = new Map([
  [
    'configuration-snippet',
    'raw nginx configuration snippets are not supported: Portico has no config text to inject into',
  ],
  ['server-snippet', 'raw nginx configuration snippets are not supported: Portico has no config text to inject into'],
  ['stream-snippet', 'raw nginx configuration snippets are not supported: Portico has no config text to inject into'],
  ['auth-snippet', 'raw nginx configuration snippets are not supported: Portico has no config text to inject into'],
  [
    'modsecurity-snippet',
    'raw nginx configuration snippets are not supported: Portico has no config text to inject into',
  ],
]);
