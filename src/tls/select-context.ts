// SNI → SecureContext, read from the table in force at the moment of the handshake. The SNI
// name picks the certificate (the Host header later picks the route): the exact TLS host
// first, then the one-label wildcard `*.suffix` (ROUTING.md section 2's order), else the
// default. A host whose own Secret is unusable gets the default, never a wildcard's
// certificate. A certificate that expired since the table was built is not served either.

import type { SecureContext } from 'node:tls';
import type { RouteTable } from '../routing/route-table.ts';
import type { BoundCertificate, TlsCertificates } from './bind-certificates.ts';

/** Lowercased, one trailing dot dropped (RFC 6066 section 3 names carry none, but clients differ). */
export function normalizeServerName(servername: string): string {
  const lower = servername.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function lookup(certificates: TlsCertificates, host: string): BoundCertificate | undefined {
  if (certificates.hosts.has(host)) return certificates.hosts.get(host);
  const dot = host.indexOf('.');
  return dot > 0 ? certificates.hosts.get(`*.${host.slice(dot + 1)}`) : undefined;
}

function current(bound: BoundCertificate | undefined, nowMs: number): SecureContext | undefined {
  return bound !== undefined && bound.certificate.notAfter > nowMs ? bound.context : undefined;
}

/**
 * The context for a handshake: by SNI name when there is one, else the default
 * (--default-ssl-certificate when usable, else `fallback`, the certificate generated at start).
 */
export function selectContext(
  table: RouteTable,
  servername: string | undefined,
  nowMs: number,
  fallback: SecureContext,
): SecureContext {
  const certificates = table.certificates;
  if (certificates === undefined) return fallback;
  if (servername) {
    const context = current(lookup(certificates, normalizeServerName(servername)), nowMs);
    if (context) return context;
  }
  return current(certificates.defaultCertificate, nowMs) ?? fallback;
}
