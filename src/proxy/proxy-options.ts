// The proxy's knobs and their defaults (issue 3 item 5). The config layer may pass any
// subset; what it leaves out takes the values below.

import type { LoadBalanceAlgorithm } from '../endpoints/endpoint-picker.ts';

export interface ProxyTimeouts {
  /** TCP connect to an endpoint (nginx `proxy_connect_timeout`) → 504 */
  readonly connectMs: number;
  /** wait for the response headers, and longest gap between response body chunks (nginx `proxy_read_timeout`) → 504 */
  readonly readMs: number;
  /** longest time the upstream may leave a request body chunk unaccepted (nginx `proxy_send_timeout`) → 504 */
  readonly sendMs: number;
  /** a client that neither sends its body nor reads its response for this long is disconnected (nginx `client_body_timeout`/`send_timeout`) */
  readonly clientIdleMs: number;
  /** a client must send its whole request header section within this (nginx `client_header_timeout`) → 408 */
  readonly clientHeaderMs: number;
  /** idle upstream keep-alive connections close after this (shorter than the 5 s of Node backends) */
  readonly upstreamKeepAliveMs: number;
  /** idle client keep-alive connections close after this (above the 60 s idle timeout of common load balancers) */
  readonly clientKeepAliveMs: number;
}

export interface ProxyLimits {
  /** request line plus header section; above it the client gets 431 (Node's `maxHeaderSize`) */
  readonly maxHeaderBytes: number;
  /** connections per upstream origin; undefined: unlimited */
  readonly connectionsPerOrigin: number | undefined;
  /** status for requests refused by `limit-rps`/`-rpm`/`-connections` (ingress-nginx's default 503; 429 is the other common choice) */
  readonly limitStatusCode: number;
  /** client addresses the rate limiter remembers at most (the least recently seen is forgotten first) */
  readonly maxLimitedClients: number;
}

export const DEFAULT_PROXY_TIMEOUTS: ProxyTimeouts = Object.freeze({
  connectMs: 5_000,
  readMs: 60_000,
  sendMs: 60_000,
  clientIdleMs: 60_000,
  clientHeaderMs: 60_000,
  upstreamKeepAliveMs: 4_000,
  clientKeepAliveMs: 75_000,
});

export const DEFAULT_PROXY_LIMITS: ProxyLimits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  connectionsPerOrigin: undefined,
  limitStatusCode: 503,
  maxLimitedClients: 100_000,
});

/** HTTP/2 on the HTTPS listener (the header list limit is `maxHeaderBytes`, as for HTTP/1.1). */
export interface Http2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (nginx `http2_max_concurrent_streams`) */
  readonly maxConcurrentStreams: number;
  /** memory one HTTP/2 session may buffer before new streams are refused (Node's `maxSessionMemory`), MB */
  readonly maxSessionMemoryMb: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2Limits = Object.freeze({
  maxConcurrentStreams: 128,
  maxSessionMemoryMb: 10,
});

export const DEFAULT_LOAD_BALANCE: LoadBalanceAlgorithm = 'round_robin';

/** How often pools and picker state are checked against the endpoint sets (only when something changed). */
export const DEFAULT_POOL_RECONCILE_INTERVAL_MS = 1_000;
