// One undici Pool per upstream origin (`http://ip:port`, or `http://name:port` for an
// ExternalName Service), made on first use and closed once the origin has left every
// endpoint set. Closing is graceful: requests already queued or running on the pool finish,
// which is what lets a request to an endpoint that was just removed complete.
//
// The pool key carries the protocol (`poolKeyOf`): `http://` HTTP/1.1, `h2c://` HTTP/2 with
// prior knowledge, `https://` HTTP/1.1 over TLS (as nginx's proxy_pass https, no ALPN h2),
// `h2s://` HTTP/2 over TLS (ALPN h2, for gRPC as nginx's grpc_pass grpcs),
// plus `#profile` when the TLS settings are not the defaults and `connect=<ms>` for a route's own
// connect timeout, so two routes that speak to one endpoint differently never share a connection.

import type { Dispatcher } from 'undici';
import { buildConnector, Pool } from 'undici';
import type { UpstreamProtocol } from '../routing/route-table.ts';
import type { ConnectLookup } from './guarded-lookup.ts';

export interface UpstreamPoolOptions {
  readonly connectTimeoutMs: number;
  /** time to the response headers, and upstream write stalls while sending (undici `headersTimeout`) */
  readonly headersTimeoutMs: number;
  /** longest gap between two response body chunks (undici `bodyTimeout`) */
  readonly bodyTimeoutMs: number;
  /** idle keep-alive connections are closed after this; upstream `Keep-Alive: timeout` hints may shorten it */
  readonly keepAliveTimeoutMs: number;
  /** connections per origin; undefined means no limit (requests never queue behind a cap) */
  readonly connectionsPerOrigin: number | undefined;
  /** resolver for host names (ExternalName); IP origins never consult it */
  readonly lookup: ConnectLookup;
}

export type UpstreamPool = Pick<Dispatcher, 'dispatch' | 'close' | 'destroy'>;

export type CreateUpstreamPool = (origin: string, options: Pool.Options) => UpstreamPool;

const createUndiciPool: CreateUpstreamPool = (origin, options) => new Pool(origin, options);

/** How long shutdown waits for in-flight upstream requests before destroying what is left. */
const SHUTDOWN_GRACE_MS = 30_000;

export class PoolRegistry {
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #closing = new Set<Promise<void>>();
  readonly #poolOptions: Pool.Options;
  readonly #connectOptions: { readonly timeout: number; readonly lookup: ConnectLookup };
  readonly #create: CreateUpstreamPool;

  constructor(options: UpstreamPoolOptions, create: CreateUpstreamPool = createUndiciPool) {
    this.#create = create;
    this.#connectOptions = { timeout: options.connectTimeoutMs, lookup: options.lookup };
    this.#poolOptions = {
      connections: options.connectionsPerOrigin ?? null,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      // The connector's own timer covers DNS, TCP and (later) TLS; `lookup` only runs for names.
      connect: { timeout: options.connectTimeoutMs, lookup: options.lookup },
      // A short request body is the client's problem, reported as a reset, not a thrown error.
      strictContentLength: false,
    };
  }

  /** The pool for `key` (from `poolKeyOf`, speaking `upstream`), made now if there is none. */
  get(key: string, upstream: UpstreamProtocol = HTTP1): UpstreamPool {
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#create(originOfKey(key), this.#optionsFor(upstream));
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #optionsFor(upstream: UpstreamProtocol): Pool.Options {
    // A route's `proxy-connect-timeout` (its pools are keyed apart by poolKeyOf).
    const connectOptions =
      upstream.connectTimeoutMs === undefined
        ? this.#connectOptions
        : { ...this.#connectOptions, timeout: upstream.connectTimeoutMs };
    const poolOptions: Pool.Options =
      connectOptions === this.#connectOptions ? this.#poolOptions : { ...this.#poolOptions, connect: connectOptions };
    switch (upstream.kind) {
      case 'http1':
        return poolOptions;
      case 'h2c':
        // Pool reads `useH2c` at its top level to build its connector; undici's typings list it
        // only under h2Options (the Client's place for it).
        return { ...poolOptions, allowH2: true, useH2c: true } as Pool.Options;
      case 'https': {
        const tls = upstream.tls;
        // HTTP/2 only when asked for (GRPCS): ALPN then offers h2 before http/1.1.
        const http2 = upstream.http2 === true;
        const connector = buildConnector({
          ...connectOptions,
          allowH2: http2,
          rejectUnauthorized: tls.verify,
          ...(tls.caPem === undefined ? {} : { ca: tls.caPem }),
          ...(tls.clientCertificate === undefined
            ? {}
            : { cert: tls.clientCertificate.certPem, key: tls.clientCertificate.keyPem }),
        });
        return {
          ...poolOptions,
          allowH2: http2,
          // undici would take SNI from each request's Host header (and reconnect whenever it
          // changes): the name is the route's instead, proxy-ssl-name or else the origin's host
          // name (none for an IP), as nginx's proxy_ssl_name defaults to the upstream, not $host.
          connect: ({ servername: _fromHost, ...options }, callback) =>
            connector(tls.serverName === undefined ? options : { ...options, servername: tls.serverName }, callback),
        };
      }
    }
  }

  has(origin: string): boolean {
    return this.#pools.has(origin);
  }

  origins(): string[] {
    return [...this.#pools.keys()];
  }

  /** Closes, gracefully, every pool whose origin is not in `live`; returns the origins closed. */
  retain(live: ReadonlySet<string>): string[] {
    const closed: string[] = [];
    for (const [origin, pool] of this.#pools) {
      if (live.has(origin)) continue;
      this.#pools.delete(origin);
      closed.push(origin);
      // No deadline: each request still has its read timeout, so the close always completes.
      this.#track(pool, undefined);
    }
    return closed;
  }

  /** Closes every pool, letting in-flight requests finish for up to `graceMs`. */
  async close(graceMs: number = SHUTDOWN_GRACE_MS): Promise<void> {
    for (const pool of this.#pools.values()) this.#track(pool, graceMs);
    this.#pools.clear();
    await Promise.all(this.#closing);
  }

  #track(pool: UpstreamPool, graceMs: number | undefined): void {
    let timer: NodeJS.Timeout | undefined;
    const closed = pool.close().catch(() => undefined);
    const deadline =
      graceMs === undefined
        ? closed
        : new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              pool
                .destroy()
                .catch(() => undefined)
                .finally(resolve);
            }, graceMs);
          });
    const done = Promise.race([closed, deadline]).finally(() => {
      clearTimeout(timer);
      this.#closing.delete(done);
    });
    this.#closing.add(done);
  }
}

const HTTP1: UpstreamProtocol = Object.freeze({ kind: 'http1' });

interface SpokenBackend {
  readonly upstream: UpstreamProtocol;
  readonly upstreamWhenTls?: UpstreamProtocol | undefined;
}

/** The protocol for one request to `backend`: AUTO_HTTP backends follow the client's scheme. */
export function upstreamFor(backend: SpokenBackend, scheme: 'http' | 'https'): UpstreamProtocol {
  return scheme === 'https' ? (backend.upstreamWhenTls ?? backend.upstream) : backend.upstream;
}

/** Every protocol requests to `backend` can use (both for AUTO_HTTP), so each keeps its pools. */
export function upstreamsOf(backend: SpokenBackend): readonly UpstreamProtocol[] {
  return backend.upstreamWhenTls === undefined ? [backend.upstream] : [backend.upstream, backend.upstreamWhenTls];
}

/** `http://10.0.0.1:8080`, `http://[fd00::1]:8080`, `http://name.example:80` */
export function originOf(host: string, port: number): string {
  return poolKeyOf(host, port, HTTP1);
}

/**
 * `http://10.0.0.1:8080`, `h2c://[fd00::1]:8080`, `https://name.example:443#3f2a...`; a route's
 * own connect timeout adds `#connect=<ms>` (after the TLS profile, when there is one).
 */
export function poolKeyOf(host: string, port: number, upstream: UpstreamProtocol): string {
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const connect = upstream.connectTimeoutMs === undefined ? '' : `connect=${upstream.connectTimeoutMs}`;
  switch (upstream.kind) {
    case 'http1':
      return `http://${authority}${connect ? `#${connect}` : ''}`;
    case 'h2c':
      return `h2c://${authority}${connect ? `#${connect}` : ''}`;
    case 'https': {
      const profile = [upstream.tls.profile, connect].filter((part) => part !== '').join(',');
      return `${upstream.http2 ? 'h2s' : 'https'}://${authority}${profile ? `#${profile}` : ''}`;
    }
  }
}

/**
 * The `servername` every request to an HTTPS pool carries: one value per pool, so undici never
 * drops a connection because requests' Host headers differ (the connector sets the real SNI).
 */
export const POOL_SERVERNAME = 'portico-upstream';

/** The URL origin a pool key connects to (`h2c://a:1` → `http://a:1`, `h2s://` → `https://`, profile dropped). */
export function originOfKey(key: string): string {
  const hash = key.indexOf('#');
  const origin = hash === -1 ? key : key.slice(0, hash);
  if (origin.startsWith('h2c://')) return `http://${origin.slice('h2c://'.length)}`;
  if (origin.startsWith('h2s://')) return `https://${origin.slice('h2s://'.length)}`;
  return origin;
}
