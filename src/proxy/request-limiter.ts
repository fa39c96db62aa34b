// Local request limits per client address and Ingress (ingress-nginx `limit-rps`, `limit-rpm`,
// `limit-connections`), counted in this process only, as ingress-nginx counts per pod.
//
// Rates follow nginx's limit_req with `nodelay` (ngx_http_limit_req_module): each client has an
// "excess" that every request raises by one and that drains at the rate; a request that would
// take the excess over the burst is refused (and not counted). So a client that was quiet gets
// 1 + burst requests at once, then one per 1/rate. The table of clients is bounded: entries
// whose excess has drained are dropped as new clients arrive, and past `maxClients` the least
// recently seen client is forgotten (it starts afresh), so a flood of distinct addresses costs
// at most `maxClients` entries. Connections count requests in flight (nginx limit_conn counts a
// connection only while it has a request being processed); an entry lives while its count is
// above zero.

import type { RequestLimits } from '../routing/route-table.ts';
import { inSourceRanges } from '../routing/source-range.ts';

interface RateEntry {
  /** requests over the rate, draining at the rate */
  excess: number;
  lastMs: number;
  /** from then on the entry may be dropped: it has drained so far that dropping changes nothing */
  idleAtMs: number;
}

export type LimitVerdict =
  | { readonly kind: 'allowed'; readonly connectionKey: string | undefined }
  | { readonly kind: 'refused'; readonly reason: 'rate' | 'connections' };

const ALLOWED_UNCOUNTED: LimitVerdict = Object.freeze({ kind: 'allowed', connectionKey: undefined });

export class RequestLimiter {
  readonly #rates = new Map<string, RateEntry>();
  readonly #connections = new Map<string, number>();
  readonly #maxClients: number;
  readonly #now: () => number;

  constructor(options: { readonly maxClients: number; readonly now: () => number }) {
    this.#maxClients = Math.max(1, options.maxClients);
    this.#now = options.now;
  }

  /** rate-table entries held (for tests and diagnostics) */
  get trackedClients(): number {
    return this.#rates.size;
  }

  /**
   * Admits or refuses one request. An admitted request under `limit-connections` holds a slot
   * until `release(connectionKey)`. Checked in ingress-nginx's order: connections, rpm, rps.
   */
  admit(limits: RequestLimits, clientIp: string): LimitVerdict {
    if (limits.exempt !== undefined && inSourceRanges(clientIp, limits.exempt)) return ALLOWED_UNCOUNTED;
    const connectionKey = limits.connections === undefined ? undefined : `${limits.zone}\u0000${clientIp}`;
    if (connectionKey !== undefined && (this.#connections.get(connectionKey) ?? 0) >= (limits.connections ?? 0))
      return { kind: 'refused', reason: 'connections' };
    const nowMs = this.#now();
    if (
      !this.#withinRate(limits, clientIp, 'm', limits.rpm, nowMs) ||
      !this.#withinRate(limits, clientIp, 's', limits.rps, nowMs)
    )
      return { kind: 'refused', reason: 'rate' };
    if (connectionKey === undefined) return ALLOWED_UNCOUNTED;
    this.#connections.set(connectionKey, (this.#connections.get(connectionKey) ?? 0) + 1);
    return { kind: 'allowed', connectionKey };
  }

  /** The request admitted with this key has finished. */
  release(connectionKey: string): void {
    const count = this.#connections.get(connectionKey) ?? 0;
    if (count <= 1) this.#connections.delete(connectionKey);
    else this.#connections.set(connectionKey, count - 1);
  }

  /** `limit-rpm` (unit m) or `limit-rps` (unit s); an unset rate always passes. */
  #withinRate(
    limits: RequestLimits,
    clientIp: string,
    unit: 'm' | 's',
    rate: number | undefined,
    nowMs: number,
  ): boolean {
    if (rate === undefined) return true;
    const windowMs = unit === 'm' ? 60_000 : 1_000;
    const key = `${limits.zone}\u0000${unit}\u0000${clientIp}`;
    return this.#takeRate(key, rate / windowMs, rate * limits.burstMultiplier, nowMs);
  }

  /** nginx limit_req: refuse when the excess would pass the burst; otherwise count the request. */
  #takeRate(key: string, perMs: number, burst: number, nowMs: number): boolean {
    const entry = this.#rates.get(key);
    let excess = 0;
    if (entry !== undefined) {
      // Clamped after adding this request, as nginx does: a fully drained client starts afresh.
      excess = Math.max(0, entry.excess - (nowMs - entry.lastMs) * perMs + 1);
      if (excess > burst) return false;
      // Re-inserted so the Map's order stays least recently seen first.
      this.#rates.delete(key);
    } else {
      this.#makeRoom(nowMs);
    }
    // From idleAtMs on, the entry means what no entry means (the next request's excess is 0).
    this.#rates.set(key, { excess, lastMs: nowMs, idleAtMs: nowMs + (excess + 1) / perMs });
    return true;
  }

  /** Drops drained entries at the old end, then the oldest ones while the table is full. */
  #makeRoom(nowMs: number): void {
    let checked = 0;
    for (const [key, entry] of this.#rates) {
      if (this.#rates.size < this.#maxClients && (checked++ >= 2 || entry.idleAtMs > nowMs)) break;
      this.#rates.delete(key);
    }
  }
}
