// Header rules in both directions. Hop-by-hop fields describe one connection and are dropped
// at every hop (RFC 9110 section 7.6.1), together with any field the Connection header names.
// Proxy-Authorization / Proxy-Authenticate are meant for the proxy they reach (RFC 9110
// sections 11.7.1 and 11.7.2), Trailer describes the framing of one hop (trailers themselves are
// relayed, see `clientTrailers`), and Expect was already answered by Node's `100 Continue`.

import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Request fields Portico sets itself; a client's values for them are replaced (X-Forwarded-For is appended to). */
const SET_BY_PROXY: ReadonlySet<string> = new Set([
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'x-request-id',
]);

/** Field names listed in Connection; `keep-alive` and `close` alone are the common case and name nothing else. */
export function connectionTokens(value: string | readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  const lower = joined.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  const tokens = new Set<string>();
  for (const part of lower.split(',')) {
    const token = part.trim();
    if (token) tokens.add(token);
  }
  return tokens;
}

export interface ForwardedFacts {
  readonly clientIp: string;
  readonly scheme: 'http' | 'https';
  /** the port the client connected to */
  readonly localPort: number | undefined;
  readonly requestId: string;
  /** from the route: `host` (upstream-vhost), `x-forwarded-prefix` */
  readonly routeHeaders: Readonly<Record<string, string>>;
  /** X-Forwarded-For as src/proxy/client-address.ts decided it; default: the client's chain plus clientIp */
  readonly forwardedFor?: string | undefined;
  /** the route checked the client's Authorization itself (`auth-type: basic`): not sent upstream */
  readonly dropAuthorization?: boolean | undefined;
}

/**
 * The header list sent upstream, as undici's flat `[name, value, ...]` form. `Host` is the
 * client's (for HTTP/2, its `:authority`) unless the route overrides it; X-Forwarded-For gets
 * the client address appended. HTTP/2 pseudo-headers (`:method`, `:path`...) are not fields.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, facts: ForwardedFacts): string[] {
  const named = connectionTokens(headers.connection);
  const routeHeaders = facts.routeHeaders;
  const out: string[] = [];
  for (const name in headers) {
    if (
      HOP_BY_HOP.has(name) ||
      SET_BY_PROXY.has(name) ||
      named?.has(name) ||
      Object.hasOwn(routeHeaders, name) ||
      name.startsWith(':') ||
      (facts.dropAuthorization === true && name === 'authorization')
    )
      continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  const authority = headers[':authority'];
  const host = headers.host ?? (typeof authority === 'string' ? authority : undefined);
  const upstreamHost = routeHeaders.host ?? host;
  if (upstreamHost !== undefined) out.push('host', upstreamHost);
  const priorFor = headers['x-forwarded-for'];
  out.push('x-forwarded-for', facts.forwardedFor ?? (priorFor ? `${priorFor}, ${facts.clientIp}` : facts.clientIp));
  out.push('x-forwarded-proto', facts.scheme);
  if (host !== undefined) out.push('x-forwarded-host', host);
  if (facts.localPort !== undefined) out.push('x-forwarded-port', String(facts.localPort));
  out.push('x-real-ip', facts.clientIp, 'x-request-id', facts.requestId);
  for (const name in routeHeaders) {
    const value = routeHeaders[name];
    if (value !== undefined && name !== 'host') out.push(name, value);
  }
  return out;
}

/**
 * The upstream's response fields for the client, from undici's raw `[name, value, ...]` list
 * (original case and order kept, duplicates such as Set-Cookie kept apart), then `own`: the
 * listener's fields (lowercase names), which replace the upstream's of the same name.
 */
export function clientResponseHeaders(raw: readonly (Buffer | string)[], own: readonly string[] = []): string[] {
  // One pass decodes each name once; a Connection field (nginx sends `keep-alive` on every
  // response) can only name fields once it is seen, so the rare one naming others is applied
  // to the collected list afterwards.
  let named: ReadonlySet<string> | undefined;
  let namedSeen = false;
  const out: string[] = [];
  for (let index = 0; index < raw.length; index += 2) {
    const nameField = raw[index];
    const valueField = raw[index + 1];
    if (nameField === undefined || valueField === undefined) break;
    const name = typeof nameField === 'string' ? nameField : nameField.toString('latin1');
    const lower = name.toLowerCase();
    const value = typeof valueField === 'string' ? valueField : valueField.toString('latin1');
    if (lower === 'connection' && !namedSeen) {
      namedSeen = true;
      named = connectionTokens(value);
    }
    if (HOP_BY_HOP.has(lower) || (own.length > 0 && ownsField(own, lower))) continue;
    out.push(name, value);
  }
  const kept = named === undefined ? out : withoutNamed(out, named);
  for (const field of own) kept.push(field);
  return kept;
}

function withoutNamed(fields: readonly string[], named: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let index = 0; index < fields.length; index += 2) {
    const name = fields[index] as string;
    if (!named.has(name.toLowerCase())) out.push(name, fields[index + 1] as string);
  }
  return out;
}

/** Whether a request's TE field lists `trailers`. */
export function wantsTrailers(te: string | undefined): boolean {
  return te !== undefined && te.split(',').some((part) => part.trim().toLowerCase() === 'trailers');
}

/**
 * An upstream's trailer fields for the client (gRPC's `grpc-status`, `grpc-message`), without
 * pseudo-headers, hop-by-hop fields and framing fields; undefined when none is left.
 */
export function clientTrailers(trailers: IncomingHttpHeaders): Record<string, string | string[]> | undefined {
  let out: Record<string, string | string[]> | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    const lower = name.toLowerCase();
    if (value === undefined || lower.startsWith(':') || HOP_BY_HOP.has(lower) || NOT_TRAILERS.has(lower)) continue;
    out ??= Object.create(null) as Record<string, string | string[]>;
    out[lower] = value;
  }
  return out;
}

/** Fields a trailer section must not carry (RFC 9110 section 6.5.1). */
const NOT_TRAILERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'host',
  'authorization',
]);

function ownsField(own: readonly string[], lower: string): boolean {
  for (let index = 0; index < own.length; index += 2) if (own[index] === lower) return true;
  return false;
}
