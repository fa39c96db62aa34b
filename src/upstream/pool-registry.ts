// One undici Pool per upstream origin (`http://ip:port`, or `http://name:port` for an
// ExternalName Service), made on first use and closed once the origin has left every
// endpoint set. Closing is graceful: requests already queued or running on the pool finish,
// which is what lets a request to an endpoint that was just removed complete.

import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
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
  readonly #create: CreateUpstreamPool;

  constructor(options: UpstreamPoolOptions, create: CreateUpstreamPool = createUndiciPool) {
    this.#create = create;
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

  /** The pool for `origin`, made now if there is none. */
  get(origin: string): UpstreamPool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = this.#create(origin, this.#poolOptions);
      this.#pools.set(origin, pool);
    }
    return pool;
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

/** `http://10.0.0.1:8080`, `http://[fd00::1]:8080`, `http://name.example:80` */
export function originOf(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}
