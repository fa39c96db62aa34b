// Who the client is. By default the socket's peer, as always. With --trust-forwarded-from, a
// peer inside those ranges (a load balancer, a CDN) is believed about the client behind it:
//   - from X-Forwarded-For, read right to left past every trusted address, like nginx's
//     real_ip_recursive: the rightmost address not in the trusted set is the client, so a
//     client can prepend whatever it likes and still not be believed;
//   - or, with --proxy-protocol, from the PROXY protocol header the peer sent before any byte
//     of HTTP or TLS (src/proxy/proxy-protocol.ts).
// A peer outside the ranges is not believed: its socket address is the client, and the
// X-Forwarded-For it sent is not passed on (ingress-nginx without use-forwarded-headers sends
// only $remote_addr). The result drives source-range checks, ClientIP affinity, the access log,
// and the X-Forwarded-For / X-Real-IP sent upstream.

import type { IncomingMessage } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { inSourceRanges, type SourceRange } from '../routing/source-range.ts';
import { proxiedSourceOf } from './proxy-protocol.ts';

export interface ClientAddressPolicy {
  /** --trust-forwarded-from; empty: the socket's peer is the client, whatever it says */
  readonly trusted: readonly SourceRange[];
  /** --proxy-protocol: the client comes from the PROXY header, not X-Forwarded-For */
  readonly proxyProtocol: boolean;
}

export const SOCKET_ONLY: ClientAddressPolicy = Object.freeze({ trusted: Object.freeze([]), proxyProtocol: false });

export interface ClientAddress {
  readonly clientIp: string;
  /** the X-Forwarded-For value to send upstream */
  readonly forwardedFor: string;
}

/** X-Forwarded-For hops read at most (right to left); a longer chain stops at the last one read. */
const MAX_FORWARDED_HOPS = 32;

/** An address without the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The client of a connection whose request could not be parsed (Node's parser refused it): no
 * X-Forwarded-For to read, but a PROXY header from a trusted peer still names the client.
 */
export function socketClientAddress(socket: Socket, policy: ClientAddressPolicy): string {
  const peer = plainAddress(socket.remoteAddress ?? '');
  if (!policy.proxyProtocol || policy.trusted.length === 0) return peer;
  const source = proxiedSourceOf(socket);
  return source === undefined ? peer : plainAddress(source);
}

function forwardedForHeader(req: IncomingMessage): string | undefined {
  const value = req.headers['x-forwarded-for'];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function resolveClientAddress(req: IncomingMessage, policy: ClientAddressPolicy): ClientAddress {
  const peer = plainAddress(req.socket.remoteAddress ?? '');
  const prior = forwardedForHeader(req);
  if (policy.trusted.length === 0) {
    // Exactly the behaviour without the flag: the chain is passed on with the peer appended.
    return { clientIp: peer, forwardedFor: prior ? `${prior}, ${peer}` : peer };
  }
  if (policy.proxyProtocol) {
    // Set by the PROXY reader only when the peer is trusted.
    const source = proxiedSourceOf(req.socket);
    const clientIp = source === undefined ? peer : plainAddress(source);
    return { clientIp, forwardedFor: clientIp };
  }
  if (!inSourceRanges(peer, policy.trusted)) return { clientIp: peer, forwardedFor: peer };
  let clientIp = peer;
  if (prior) {
    const hops = prior.split(',');
    const last = Math.max(0, hops.length - MAX_FORWARDED_HOPS);
    for (let index = hops.length - 1; index >= last; index--) {
      const hop = plainAddress((hops[index] as string).trim());
      // A hop that is not an address ends the walk: the last trusted hop is the client.
      if (isIP(hop) === 0) break;
      clientIp = hop;
      if (!inSourceRanges(hop, policy.trusted)) break;
    }
  }
  return { clientIp, forwardedFor: prior ? `${prior}, ${peer}` : peer };
}
