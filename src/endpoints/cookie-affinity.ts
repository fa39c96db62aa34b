// `affinity: cookie` (ingress-nginx docs/examples/affinity/cookie): which endpoint a session
// cookie names, and what value to give a new session. Two modes, as ingress-nginx:
//
// - persistent: the cookie names one endpoint. Its value is HMAC-SHA256(secret, "ip:port"),
//   truncated to 132 bits, so it does not reveal the address. The session stays on that
//   endpoint through any other endpoint change and moves only when it leaves the ready set
//   (not ready, terminating, gone); then the proxy picks anew and sets a new cookie.
// - balanced: the cookie holds a random session key; the endpoint is the key's rendezvous
//   choice among the ready endpoints. Removing another endpoint moves nobody; adding one moves
//   the sessions it now wins (about 1/n), which is how balanced mode spreads load after a
//   scale-up. ingress-nginx uses a ketama ring over the same kind of key.
//
// The HMAC secret is the Service's uid. Every Portico replica and worker sees the same uid, so
// a cookie set by one is honoured by all (no shared state, no key distribution), while a client
// never sees the uid (it is not exposed over HTTP), so it cannot enumerate the small pod IP
// space to invert the value. A Service recreated under the same name gets a new uid: its
// sessions are reassigned once, which is right since its endpoints are new pods anyway.
// Manifests without a uid (standalone mode) fall back to `ns/name`: still stable across
// replicas, but then the value only obscures the address rather than hiding it.

import { createHmac } from 'node:crypto';
import type { Endpoint, ServiceBackend } from './service-endpoints.ts';

/** base64url characters of a cookie value: 22 of them carry 132 bits */
const VALUE_LENGTH = 22;
const VALUE_FORMAT = /^[A-Za-z0-9_-]{22}$/;

/** The HMAC key of a Service's persistent cookies: its uid, else `ns/name` (see above). */
export function affinitySecretOf(backend: ServiceBackend): string {
  return backend.serviceUid ?? backend.serviceKey;
}

interface PersistentTable {
  readonly secret: string;
  readonly endpointByValue: ReadonlyMap<string, Endpoint>;
  readonly valueById: ReadonlyMap<string, string>;
}

const tables = new WeakMap<readonly Endpoint[], PersistentTable>();

/**
 * The cookie values of one ready-endpoint list, computed once per list (the endpoint view keeps
 * a list until the Service's slices change), so a request does one map lookup.
 */
function persistentTable(candidates: readonly Endpoint[], secret: string): PersistentTable {
  let table = tables.get(candidates);
  if (table === undefined || table.secret !== secret) {
    const endpointByValue = new Map<string, Endpoint>();
    const valueById = new Map<string, string>();
    for (const endpoint of candidates) {
      const value = createHmac('sha256', secret).update(endpoint.id).digest('base64url').slice(0, VALUE_LENGTH);
      endpointByValue.set(value, endpoint);
      valueById.set(endpoint.id, value);
    }
    table = { secret, endpointByValue, valueById };
    tables.set(candidates, table);
  }
  return table;
}

/** The ready endpoint a persistent cookie names, or undefined when it left (or never existed). */
export function persistentCookieEndpoint(
  candidates: readonly Endpoint[],
  secret: string,
  value: string | undefined,
): Endpoint | undefined {
  if (value === undefined || value.length !== VALUE_LENGTH) return undefined;
  return persistentTable(candidates, secret).endpointByValue.get(value);
}

/** The persistent cookie value naming `endpoint`, which must be one of `candidates`. */
export function persistentCookieValue(candidates: readonly Endpoint[], secret: string, endpoint: Endpoint): string {
  return persistentTable(candidates, secret).valueById.get(endpoint.id) ?? '';
}

/** A balanced-mode session key Portico could have issued (anything else gets a new one). */
export function isBalancedSessionKey(value: string | undefined): value is string {
  return value !== undefined && VALUE_FORMAT.test(value);
}

/** A new balanced-mode session key from 16 random bytes (`randomBytes` is injected). */
export function newBalancedSessionKey(randomBytes: (size: number) => Buffer): string {
  return randomBytes(16).toString('base64url').slice(0, VALUE_LENGTH);
}
