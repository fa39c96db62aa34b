// Client-address ranges for `allowlist-source-range` / `denylist-source-range`: strict parsing
// (IPv4 only in four-part decimal, no IPv6 zone ids) and matching through ipaddr.js. An
// IPv4-mapped IPv6 client address is matched as the IPv4 address it carries.

import ipaddr from 'ipaddr.js';

export interface SourceRange {
  /** as written, normalized (`10.0.0.0/8`, `2001:db8::/32`) */
  readonly text: string;
  readonly address: ipaddr.IPv4 | ipaddr.IPv6;
  readonly bits: number;
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

/** One entry: an address or `address/prefix`; undefined if it is neither. */
export function parseSourceRange(entry: string): SourceRange | undefined {
  const slash = entry.indexOf('/');
  const address = parseAddress(slash < 0 ? entry : entry.slice(0, slash));
  if (address === undefined) return undefined;
  const max = address.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefix = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
    bits = Number(prefix);
  }
  return Object.freeze({ text: `${address.toString()}/${bits}`, address, bits });
}

/** Whether a client address (as the socket reports it) falls in any of the ranges. */
export function inSourceRanges(clientIp: string, ranges: readonly SourceRange[]): boolean {
  if (!ipaddr.isValid(clientIp)) return false;
  const parsed = ipaddr.process(clientIp);
  return ranges.some((range) => range.address.kind() === parsed.kind() && parsed.match(range.address, range.bits));
}

/**
 * ingress-nginx order: a denylist wins over an allowlist; with an allowlist, only its ranges
 * get in. Returns true when the client must get 403.
 */
export function sourceDenied(
  clientIp: string,
  allow: readonly SourceRange[] | undefined,
  deny: readonly SourceRange[] | undefined,
): boolean {
  if (deny !== undefined && inSourceRanges(clientIp, deny)) return true;
  return allow !== undefined && !inSourceRanges(clientIp, allow);
}
