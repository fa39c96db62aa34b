// Request host and path as the router sees them (ROUTING.md sections 2 and 3).
// The normalized path is also what goes upstream, so what matched is what the backend sees.

export type NormalizedPath =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: string };

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// RFC 3986 pchar plus '/', with '%' handled separately; anything else in a path is malformed.
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

/**
 * Splits an origin-form request target into a normalized path and the raw query.
 * Order as nginx: decode percent-encoded unreserved characters (`%2F` stays encoded),
 * merge repeated slashes, remove dot-segments (RFC 3986 section 5.2.4).
 */
export function normalizeRequestTarget(target: string): NormalizedPath {
  if (!target.startsWith('/')) return { ok: false, reason: 'request target is not origin-form' };
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt);
  if (!PATH_CHARS.test(rawPath))
    return { ok: false, reason: 'request path has characters that must be percent-encoded' };
  const decoded = decodeUnreserved(rawPath);
  if (decoded === undefined) return { ok: false, reason: 'request path has a malformed percent-encoding' };
  const segments: string[] = [];
  const parts = decoded.split('/');
  for (let index = 1; index < parts.length; index++) {
    const segment = parts[index] as string;
    const last = index === parts.length - 1;
    if (segment === '' && !last) continue; // merged slash
    if (segment === '.') {
      if (last) segments.push('');
      continue;
    }
    if (segment === '..') {
      if (segments.length === 0) return { ok: false, reason: 'request path climbs above /' };
      segments.pop();
      if (last) segments.push('');
      continue;
    }
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join('/')}`, query };
}

function decodeUnreserved(path: string): string | undefined {
  if (!path.includes('%')) return path;
  let out = '';
  for (let index = 0; index < path.length; index++) {
    const char = path[index] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = path.slice(index + 1, index + 3);
    if (!HEX.test(hex)) return undefined;
    const decoded = String.fromCharCode(Number.parseInt(hex, 16));
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    index += 2;
  }
  return out;
}

const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/;
const IPV6_LITERAL = /^\[[0-9a-f:.]+\]$/;
const MAX_HOST_LENGTH = 253;

/**
 * Lowercase, drop `:port`, drop one trailing dot; IPv6 literals keep their brackets.
 * Returns undefined for a Host that is not a valid name or address (the proxy answers 400).
 * An absent Host is '' and matches only host-less rules.
 */
export function normalizeRequestHost(rawHost: string | undefined): string | undefined {
  if (rawHost === undefined || rawHost === '') return '';
  let host = rawHost.toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return undefined;
    const rest = host.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    host = host.slice(0, close + 1);
    return IPV6_LITERAL.test(host) ? host : undefined;
  }
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > MAX_HOST_LENGTH || !HOST_NAME.test(host)) return undefined;
  return host;
}
