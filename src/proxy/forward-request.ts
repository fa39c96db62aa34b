// One request through the proxy: resolve against the table read once, pick an endpoint, stream
// the request to that endpoint's pool and the response back, each with backpressure; retry
// elsewhere when the route's next-upstream policy allows it; one access-log line and one
// metrics observation at the end.
//
// Failure rules (issue 3 item 5, issue 7 item 4): connect timeout, read and send timeouts → 504;
// refused or reset → 502. Before any response byte reached the client, a failure or a response
// status listed by the route's `proxy-next-upstream` (default: refused, reset, connect timeout)
// moves to an endpoint not tried yet, within `-tries` and `-timeout`: for idempotent methods
// (or `non_idempotent`), and for any method when nothing was sent. A request body that started
// to flow is never replayed; a retry on a status needs a request without a body. A dropped
// response is read and discarded (so its connection goes back to the pool), or its connection
// closed when it is long. A failure after the response started ends the client's response
// abruptly (the client sees a truncated body rather than a wrong one).

import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2Constants, type Http2Stream } from 'node:http2';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import {
  affinitySecretOf,
  isBalancedSessionKey,
  newBalancedSessionKey,
  persistentCookieEndpoint,
  persistentCookieValue,
} from '../endpoints/cookie-affinity.ts';
import type { EndpointPicker, LoadBalanceAlgorithm } from '../endpoints/endpoint-picker.ts';
import { endpointSetKey, readyEndpoints } from '../endpoints/endpoint-picker.ts';
import { hashKey, rendezvousPick } from '../endpoints/rendezvous-hash.ts';
import { type Endpoint, endpointId, type ServiceBackend } from '../endpoints/service-endpoints.ts';
import { readCookie } from '../routing/canary-verdict.ts';
import { evaluateHashKey } from '../routing/hash-key.ts';
import {
  DEFAULT_NEXT_UPSTREAM,
  mayRetryFailure,
  mayRetryStatus,
  type NextUpstreamPolicy,
  type RetryState,
} from '../routing/next-upstream.ts';
import { type RequestDecision, resolveRequest, selectionOf } from '../routing/resolve-request.ts';
import { allowedOrigin, corsHeaders, isPreflight } from '../routing/cors-policy.ts';
import type {
  ResolvedBackend,
  RouteAttributes,
  SelectionAttributes,
  SessionCookieSettings,
  UpstreamProtocol,
} from '../routing/route-table.ts';
import { sourceDenied } from '../routing/source-range.ts';
import type { LiveState } from '../runtime/live-state.ts';
import type { AddressPolicy } from '../upstream/guarded-lookup.ts';
import { LiveEndpointTracker } from '../upstream/live-origins.ts';
import { POOL_SERVERNAME, type PoolRegistry, poolKeyOf, upstreamFor } from '../upstream/pool-registry.ts';
import {
  classifyUpstreamError,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamFailure,
} from '../upstream/upstream-error-status.ts';
import { type AuthVerdict, basicChallenge, type BasicAuthGate } from './basic-auth-gate.ts';
import { type ClientAddressPolicy, resolveClientAddress, SOCKET_ONLY } from './client-address.ts';
import { clientResponseHeaders, clientTrailers, upstreamRequestHeaders, wantsTrailers } from './forward-headers.ts';
import { errorBody, type PorticoErrorCode, statusBody, statusOfError } from './proxy-errors.ts';
import type { ProxyTimeouts } from './proxy-options.ts';
import { RequestBodySource } from './request-body-source.ts';
import type { RequestLimiter } from './request-limiter.ts';
import { sessionCookieLine } from './session-cookie.ts';
import type { RequestMetrics } from './request-metrics.ts';

/** A response dropped for a retry is read to its end up to this, then its connection is closed. */
const DISCARD_LIMIT_BYTES = 64 * 1024;
/** balanced affinity: new session keys drawn until one lands on an endpoint not tried yet */
const MAX_SESSION_KEY_TRIES = 20;

export interface PickerSet {
  readonly roundRobin: EndpointPicker;
  readonly ewma: EndpointPicker;
  readonly clientIp: EndpointPicker;
  readonly algorithm: LoadBalanceAlgorithm;
}

export interface ForwarderOptions {
  readonly state: LiveState;
  readonly pools: PoolRegistry;
  readonly pickers: PickerSet;
  readonly metrics: RequestMetrics;
  readonly logger: Logger;
  readonly timeouts: ProxyTimeouts;
  readonly isForbiddenAddress: AddressPolicy;
  readonly scheme: 'http' | 'https';
  /**
   * Fields set on every response of this listener, as `[name, value, ...]` with lowercase
   * names, replacing an upstream's fields of the same name (HTTPS: Strict-Transport-Security).
   */
  readonly responseHeaders?: readonly string[];
  /** monotonic milliseconds */
  readonly now: () => number;
  /** `limit-*` state, shared by the listeners */
  readonly limiter: RequestLimiter;
  /** the status for requests refused by `limit-*` (ingress-nginx's limit-req/conn-status-code, 503) */
  readonly limitStatusCode: number;
  /** `auth-type: basic` checks; routes with auth answer 503 without it */
  readonly auth?: BasicAuthGate | undefined;
  /** --trust-forwarded-from / --proxy-protocol; default: the socket's peer is the client */
  readonly clientAddress?: ClientAddressPolicy | undefined;
}

/** The error a failed authentication verdict answers with. */
export function authErrorOf(verdict: Exclude<AuthVerdict, 'pass'>): PorticoErrorCode {
  switch (verdict) {
    case 'challenge':
      return 'PORTICO_ERR_UNAUTHORIZED';
    case 'busy':
      return 'PORTICO_ERR_AUTH_BUSY';
    case 'unavailable':
      return 'PORTICO_ERR_AUTH_UNAVAILABLE';
  }
}

/** Where one attempt goes. */
export interface UpstreamTarget {
  /** `ip:port` or `name:port` */
  readonly id: string;
  /** the pool key (`poolKeyOf`): protocol, address and TLS profile */
  readonly origin: string;
  readonly upstream: UpstreamProtocol;
  /** `affinity: cookie`: the session cookie value to set with the response (a new session) */
  readonly cookie?: string | undefined;
}

interface Choice {
  readonly endpoint: Endpoint | undefined;
  readonly cookie: string | undefined;
}

/** The Host header, or for HTTP/2 the `:authority` pseudo-header it replaces (RFC 9113 section 8.3.1). */
export function requestAuthority(req: IncomingMessage): string | undefined {
  const authority = req.headers.host ?? req.headers[':authority'];
  return typeof authority === 'string' ? authority : undefined;
}

/** One header's value as a string (repeated headers joined as Node joins them). */
function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Connection: close on an HTTP/1.1 response not yet started (HTTP/2 drains with GOAWAY instead). */
function closeAfterResponse(res: ServerResponse): void {
  if (!res.headersSent && res.req?.httpVersionMajor === 1) res.shouldKeepAlive = false;
}

function countHostLines(req: IncomingMessage): number {
  let count = 0;
  const raw = req.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

export class Forwarder {
  readonly options: ForwarderOptions;
  /** requests whose response has not closed yet */
  inFlight = 0;
  #draining = false;
  #reconciledGeneration = -1;
  #reconciledVersion = -1;
  readonly #live = new LiveEndpointTracker();

  constructor(options: ForwarderOptions) {
    this.options = options;
  }

  /**
   * The listener is closing: no response head written from now on keeps its HTTP/1.1
   * connection alive (each Exchange checks when it writes its head). Not a set of the
   * responses in flight, marked here: a Set with an add and a delete per request kept whole
   * finished requests reachable for the scavenger once it lived in the old generation (most
   * likely through the obsolete tables its rehashes leave behind), which made a third of the
   * young generation survive every scavenge under load (bench/README.md).
   */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const exchange = new Exchange(this, req, res, requestId);
    try {
      exchange.run();
    } catch (error) {
      exchange.fail(error);
    }
  }

  /**
   * The table's decision for a request. HTTP/1.1 without Host is malformed (RFC 9112 section
   * 3.2), and so is HTTP/2 with neither `:authority` nor Host (RFC 9113 section 8.3.1).
   */
  resolve(req: IncomingMessage): RequestDecision {
    const { state, scheme } = this.options;
    // More than one Host line must be refused (RFC 9112 section 3.2): Node keeps the first,
    // another hop might use the last, and the two would route the request differently.
    if (countHostLines(req) > 1) return { kind: 'bad-request', reason: 'more than one Host header' };
    const hostHeader = requestAuthority(req);
    if (hostHeader === undefined && (req.httpVersionMajor > 1 || req.httpVersionMinor >= 1))
      return { kind: 'bad-request', reason: `HTTP/${req.httpVersion} request without Host` };
    return resolveRequest(state.routing().table, {
      scheme,
      hostHeader,
      target: req.url ?? '',
      // Canary by header or cookie reads request headers; a weighted canary rolls the dice.
      header: (name) => singleHeader(req, name),
      random: Math.random,
    });
  }

  /**
   * The picker for requests not placed by cookie or hash: the Service's ClientIP affinity,
   * else the route's `load-balance`, else the global algorithm.
   */
  pickerFor(backend: ServiceBackend, attributes: SelectionAttributes | undefined): EndpointPicker {
    const { pickers } = this.options;
    if (backend.sessionAffinity === 'ClientIP') return pickers.clientIp;
    return (attributes?.loadBalance ?? pickers.algorithm) === 'ewma' ? pickers.ewma : pickers.roundRobin;
  }

  /**
   * Endpoint for a new request to `backend`, or why there is none. A retry passes the endpoints
   * already tried (the last one added last) and gets undefined when none is left. With the
   * request and its route's attributes, `affinity: cookie` and then `upstream-hash-by` place it
   * (see parse-selection-annotations.ts for the precedence). The protocol follows this
   * listener's scheme for `backend-protocol: AUTO_HTTP` backends (WebSockets included).
   */
  pickTarget(
    backend: ResolvedBackend,
    clientIp: string,
    tried: ReadonlySet<string> | undefined,
    req?: IncomingMessage,
    attributes?: SelectionAttributes,
  ): UpstreamTarget | PorticoErrorCode | undefined {
    if (backend.kind === 'unavailable') return 'PORTICO_ERR_BACKEND_UNAVAILABLE';
    if (backend.kind === 'cluster-ip') {
      // One virtual address: kube-proxy chooses the pod, so a retry has nowhere else to go.
      if (tried !== undefined) return undefined;
      const upstream = upstreamFor(backend, this.options.scheme);
      return {
        id: endpointId(backend.address, backend.port),
        origin: poolKeyOf(backend.address, backend.port, upstream),
        upstream,
      };
    }
    if (backend.kind === 'external-name') {
      if (tried !== undefined) return undefined;
      // An IP literal never reaches the resolver, so the address policy is applied here.
      if (isIP(backend.hostname) !== 0 && this.options.isForbiddenAddress(backend.hostname))
        return 'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN';
      const id = backend.hostname.includes(':')
        ? `[${backend.hostname}]:${backend.port}`
        : `${backend.hostname}:${backend.port}`;
      const upstream = upstreamFor(backend, this.options.scheme);
      return { id, origin: poolKeyOf(backend.hostname, backend.port, upstream), upstream };
    }
    const ready = readyEndpoints(this.options.state.endpoints.endpointsFor(backend));
    const candidates = tried === undefined ? ready : ready.filter((endpoint) => !tried.has(endpoint.id));
    if (candidates.length === 0) return tried === undefined ? 'PORTICO_ERR_NO_ENDPOINTS' : undefined;
    let endpoint: Endpoint | undefined;
    let cookie: string | undefined;
    if (req !== undefined && attributes?.sessionCookie !== undefined) {
      const choice = this.#pickSession(
        backend,
        attributes,
        attributes.sessionCookie,
        ready,
        candidates,
        req,
        clientIp,
        tried,
      );
      endpoint = choice.endpoint;
      cookie = choice.cookie;
    } else if (req !== undefined && attributes?.upstreamHashBy !== undefined) {
      const key = evaluateHashKey(attributes.upstreamHashBy, {
        clientIp,
        requestUri: req.url ?? '',
        header: (name) => singleHeader(req, name),
      });
      // The whole ready list (its hash seeds are cached with it), skipping what was tried.
      endpoint = rendezvousPick(ready, hashKey(key), tried);
    } else {
      endpoint = this.#pickByLoad(backend, attributes, candidates, clientIp, tried);
    }
    if (endpoint === undefined) return tried === undefined ? 'PORTICO_ERR_NO_ENDPOINTS' : undefined;
    const upstream = upstreamFor(backend, this.options.scheme);
    return { id: endpoint.id, origin: poolKeyOf(endpoint.address, endpoint.port, upstream), upstream, cookie };
  }

  #pickByLoad(
    backend: ServiceBackend,
    attributes: SelectionAttributes | undefined,
    candidates: readonly Endpoint[],
    clientIp: string,
    tried: ReadonlySet<string> | undefined,
  ): Endpoint | undefined {
    return this.pickerFor(backend, attributes).pick(endpointSetKey(backend), {
      candidates,
      clientIp,
      nowMs: this.options.now(),
      avoidId: tried === undefined ? undefined : lastOf(tried),
    });
  }

  /**
   * `affinity: cookie` (src/endpoints/cookie-affinity.ts). A cookie is issued for a new
   * session, when a persistent session's endpoint has left, and when change-on-failure moves
   * a session; a retry without change-on-failure goes elsewhere once and keeps the cookie.
   */
  #pickSession(
    backend: ServiceBackend,
    attributes: SelectionAttributes,
    settings: SessionCookieSettings,
    ready: readonly Endpoint[],
    candidates: readonly Endpoint[],
    req: IncomingMessage,
    clientIp: string,
    tried: ReadonlySet<string> | undefined,
  ): Choice {
    // Cookie values and hash seeds are cached per ready list, so lookups use it, not the
    // per-retry `candidates`.
    const received = readCookie(singleHeader(req, 'cookie'), settings.name);
    if (settings.mode === 'persistent') {
      const secret = affinitySecretOf(backend);
      const named = persistentCookieEndpoint(ready, secret, received);
      if (named !== undefined && !tried?.has(named.id)) return { endpoint: named, cookie: undefined };
      const endpoint = this.#pickByLoad(backend, attributes, candidates, clientIp, tried);
      const moves = endpoint !== undefined && (named === undefined || settings.changeOnFailure);
      return { endpoint, cookie: moves ? persistentCookieValue(ready, secret, endpoint) : undefined };
    }
    if (isBalancedSessionKey(received) && (tried === undefined || !settings.changeOnFailure))
      return { endpoint: rendezvousPick(ready, hashKey(received), tried), cookie: undefined };
    // A new session (or one moving on failure): a fresh random key, whose rendezvous choice
    // is where the session lives, redrawn while that is an endpoint already tried.
    for (let draws = 0; draws < MAX_SESSION_KEY_TRIES; draws++) {
      const key = newBalancedSessionKey(randomBytes);
      const endpoint = rendezvousPick(ready, hashKey(key), undefined);
      if (endpoint !== undefined && !tried?.has(endpoint.id)) return { endpoint, cookie: key };
    }
    // Unlucky draws: serve this request elsewhere and leave the cookie alone.
    return { endpoint: rendezvousPick(ready, hashKey(received ?? ''), tried), cookie: undefined };
  }

  /**
   * Closes pools (gracefully) and forgets picker state for endpoints no backend lists any
   * more. Cheap when nothing changed; the server calls it on a timer.
   */
  reconcile(): void {
    const { state, pools, pickers } = this.options;
    const { table, generation } = state.routing();
    const version = state.endpoints.version;
    if (generation === this.#reconciledGeneration && version === this.#reconciledVersion) return;
    this.#reconciledGeneration = generation;
    this.#reconciledVersion = version;
    const live = this.#live.update(table, state.endpoints);
    pools.retain(live.origins);
    pickers.ewma.retain(live.endpointIds);
    pickers.roundRobin.retain(live.endpointIds);
    pickers.clientIp.retain(live.endpointIds);
  }
}

class Exchange {
  readonly #forwarder: Forwarder;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #requestId: string;
  readonly #startedAt: number;
  readonly #clientIp: string;
  readonly #forwardedFor: string;
  #decision: RequestDecision | undefined;
  #headers: string[] | undefined;
  #body: RequestBodySource | null = null;
  #attempt: UpstreamAttempt | undefined;
  #attempts = 0;
  /** ids of the endpoints tried, in order; made at the first retry (most requests never need it) */
  #tried: Set<string> | undefined;
  /** a `default-backend` serves this request because the route's Service had no endpoint */
  #onFallback = false;
  #policy: NextUpstreamPolicy = DEFAULT_NEXT_UPSTREAM;
  #responseStarted = false;
  #clientGone = false;
  #finished = false;
  #bytesOut = 0;
  #errorCode: PorticoErrorCode | undefined;
  #upstreamStatus: number | undefined;
  #upstreamDurationMs: number | undefined;
  #pausedController: Dispatcher.DispatchController | undefined;
  #watchingDrain = false;
  /** reasons Portico is waiting on the client (body still arriving, response not being read) */
  #clientWaits = 0;
  #cancelsOnTimeout = false;
  /** the request body went past the route's `proxy-body-size` while streaming */
  #bodyTooLarge = false;
  /** the matched route's annotations (undefined for default backends) */
  #attributes: RouteAttributes | undefined;
  /** fields set on every response: the listener's, plus CORS for an allowed Origin */
  #ownHeaders: readonly string[];
  /** the `limit-connections` slot this request holds */
  #connectionKey: string | undefined;
  /** the upstream status that `custom-http-errors` replaced with the error backend's answer */
  #replacedStatus: number | undefined;

  constructor(forwarder: Forwarder, req: IncomingMessage, res: ServerResponse, requestId: string) {
    this.#forwarder = forwarder;
    this.#req = req;
    this.#res = res;
    this.#requestId = requestId;
    this.#startedAt = forwarder.options.now();
    const client = resolveClientAddress(req, forwarder.options.clientAddress ?? SOCKET_ONLY);
    this.#clientIp = client.clientIp;
    this.#forwardedFor = client.forwardedFor;
    this.#ownHeaders = forwarder.options.responseHeaders ?? [];
    forwarder.inFlight++;
    // `on`, not `once`: a response closes once, and `once` wraps and unregisters per request.
    res.on('close', this.#onResponseClose);
  }

  run(): void {
    // HTTP/1 CONNECT never gets here (the server's 'connect' event answers it); HTTP/2's does.
    if (this.#req.method === 'CONNECT') {
      this.#respondError('PORTICO_ERR_METHOD_NOT_ALLOWED');
      return;
    }
    const decision = this.#forwarder.resolve(this.#req);
    this.#decision = decision;
    switch (decision.kind) {
      case 'bad-request':
        this.#respondError('PORTICO_ERR_BAD_REQUEST');
        return;
      case 'not-found':
        this.#respondError('PORTICO_ERR_NO_ROUTE');
        return;
      case 'redirect':
        this.#writeHead(decision.status, ['location', decision.location, 'content-length', '0', ...this.#ownHeaders]);
        this.#res.end();
        return;
      case 'forward':
        this.#forward(decision);
        return;
    }
  }

  /** Anything thrown on the request path: answer 500 if still possible, never rethrow. */
  fail(error: unknown): void {
    this.#forwarder.options.logger.error({ err: error, requestId: this.#requestId }, 'proxy handler failed');
    this.#errorCode ??= 'PORTICO_ERR_INTERNAL';
    this.#abortAttempt(new UpstreamError('PORTICO_ERR_UPSTREAM_FAILED', 'proxy handler failed'));
    this.#body?.detach();
    if (!this.#res.headersSent && !this.#clientGone) this.#respondError('PORTICO_ERR_INTERNAL');
    else this.#res.destroy();
  }

  #forward(decision: Extract<RequestDecision, { kind: 'forward' }>): void {
    const attributes = decision.route?.attributes;
    this.#attributes = attributes;
    if (sourceDenied(this.#clientIp, attributes?.allowSourceRanges, attributes?.denySourceRanges)) {
      this.#respondError('PORTICO_ERR_FORBIDDEN');
      return;
    }
    this.#policy = attributes?.nextUpstream ?? DEFAULT_NEXT_UPSTREAM;
    // Routes without CORS or limits pay nothing more than this check.
    if ((attributes?.cors !== undefined || attributes?.limits !== undefined) && this.#answeredByPolicy(attributes))
      return;
    const auth = attributes?.auth;
    if (auth === undefined) {
      this.#forwardAuthorized(decision);
      return;
    }
    const gate = this.#forwarder.options.auth;
    const verdict = gate ? gate.check(auth, this.#req.headers.authorization) : 'unavailable';
    const proceed = (outcome: AuthVerdict): void => {
      if (outcome === 'pass') this.#forwardAuthorized(decision);
      else if (outcome === 'challenge')
        this.#respondError('PORTICO_ERR_UNAUTHORIZED', undefined, ['www-authenticate', basicChallenge(auth)]);
      else this.#respondError(authErrorOf(outcome));
    };
    if (typeof verdict === 'string') proceed(verdict);
    else {
      verdict
        .then((outcome) => {
          if (!this.#clientGone && !this.#finished) proceed(outcome);
        })
        .catch((error: unknown) => this.fail(error));
    }
  }

  /** After source ranges, limits, CORS preflight and authentication (nginx's phase order). */
  #forwardAuthorized(forwardDecision: Extract<RequestDecision, { kind: 'forward' }>): void {
    let decision = forwardDecision;
    const attributes = decision.route?.attributes;
    const maxBody = attributes?.proxyBodySize;
    const declared = this.#req.headers['content-length'];
    if (maxBody !== undefined && declared !== undefined && Number(declared) > maxBody) {
      this.#respondError('PORTICO_ERR_BODY_TOO_LARGE');
      return;
    }
    let target = this.#forwarder.pickTarget(
      decision.backend,
      this.#clientIp,
      undefined,
      this.#req,
      this.#selection(decision),
    );
    // ingress-nginx: with `default-backend`, a route whose Service has no endpoint (or does not
    // exist) is served by that backend instead of answering 503.
    const fallback = attributes?.defaultBackend;
    if (typeof target !== 'object' && fallback !== undefined && target !== 'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN') {
      const fallbackTarget = this.#forwarder.pickTarget(fallback, this.#clientIp, undefined);
      if (typeof fallbackTarget === 'object') {
        decision = { ...decision, backend: fallback };
        this.#decision = decision;
        target = fallbackTarget;
        // The route's affinity and hashing name endpoints of its own Service, not of this one.
        this.#onFallback = true;
      }
    }
    if (typeof target === 'string' || target === undefined) {
      this.#respondError(target ?? 'PORTICO_ERR_NO_ENDPOINTS');
      return;
    }
    const req = this.#req;
    const { scheme, timeouts, now } = this.#forwarder.options;
    this.#headers = upstreamRequestHeaders(req.headers, {
      clientIp: this.#clientIp,
      forwardedFor: this.#forwardedFor,
      scheme,
      localPort: req.socket.localPort,
      requestId: this.#requestId,
      routeHeaders: decision.upstreamHeaders,
      // The credentials were for Portico (ingress-nginx does not pass them on either).
      dropAuthorization: attributes?.auth !== undefined,
    });
    // `TE: trailers` is the one TE allowed in HTTP/2 (RFC 9113 section 8.2.2) and gRPC servers
    // expect it: passed on to HTTP/2 backends when the client sent it.
    if (speaksHttp2(target.upstream) && wantsTrailers(singleHeader(req, 'te'))) this.#headers.push('te', 'trailers');
    if (hasRequestBody(req)) {
      this.#body = new RequestBodySource(
        req,
        attributes?.proxySendTimeoutMs ?? timeouts.sendMs,
        now,
        (error) => this.#abortAttempt(error),
        (waiting) => this.#clientWait(waiting ? 1 : -1),
        maxBody,
        () => {
          this.#bodyTooLarge = true;
          this.#abortAttempt(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'request body over proxy-body-size'));
        },
      );
    }
    this.#dispatch(target, decision);
  }

  /**
   * CORS and `limit-*` for a route that has them: true when Portico answered the request here
   * (refused by a limit, or a CORS preflight). The CORS fields are worked out first so that a
   * refusal carries them too and the browser can show the page its status.
   */
  #answeredByPolicy(attributes: RouteAttributes): boolean {
    const { cors, limits } = attributes;
    const origin = cors === undefined ? undefined : singleHeader(this.#req, 'origin');
    const allowOrigin = cors === undefined ? undefined : allowedOrigin(cors, origin);
    if (cors !== undefined && allowOrigin !== undefined)
      this.#ownHeaders = [...corsHeaders(cors, allowOrigin), ...this.#ownHeaders];
    if (limits !== undefined) {
      const { limiter, limitStatusCode } = this.#forwarder.options;
      const verdict = limiter.admit(limits, this.#clientIp);
      if (verdict.kind === 'refused') {
        this.#respondError(
          verdict.reason === 'rate' ? 'PORTICO_ERR_RATE_LIMITED' : 'PORTICO_ERR_TOO_MANY_CONNECTIONS',
          limitStatusCode,
        );
        return true;
      }
      this.#connectionKey = verdict.connectionKey;
    }
    // A preflight from an allowed Origin is answered here (204, RFC 9110 section 15.3.5: no
    // body, no Content-Length); from another Origin it goes to the backend, as ingress-nginx.
    if (
      allowOrigin !== undefined &&
      isPreflight(this.#req.method, origin, this.#req.headers['access-control-request-method'])
    ) {
      this.#writeHead(204, ['x-request-id', this.#requestId, ...this.#ownHeaders]);
      this.#res.end();
      return true;
    }
    return false;
  }

  #dispatch(target: UpstreamTarget, decision: Extract<RequestDecision, { kind: 'forward' }>): void {
    this.#send(target, decision.backend, {
      path: decision.upstreamPath,
      method: this.#req.method as Dispatcher.HttpMethod,
      // undici takes any async iterable as a body; its typings list only streams.
      body: this.#body as unknown as Readable | null,
      readMs: decision.route?.attributes.proxyReadTimeoutMs,
      selection: this.#selection(decision),
    });
  }

  #send(
    target: UpstreamTarget,
    backend: ResolvedBackend,
    request: {
      readonly path: string;
      readonly method: Dispatcher.HttpMethod;
      readonly body: Readable | null;
      readonly readMs: number | undefined;
      /** what chose the endpoint (the picker told of the attempt's start and end) */
      readonly selection: SelectionAttributes | undefined;
    },
  ): void {
    const { pools } = this.#forwarder.options;
    this.#attempts++;
    this.#tried?.add(target.id);
    const attempt = new UpstreamAttempt(this, this.#forwarder, target, backend, request.selection);
    this.#attempt = attempt;
    attempt.begin();
    const readMs = request.readMs;
    const options: Dispatcher.DispatchOptions = {
      ...(target.upstream.kind === 'https' ? { servername: POOL_SERVERNAME } : {}),
      path: request.path,
      method: request.method,
      headers: this.#headers ?? [],
      body: request.body,
      // `proxy-read-timeout` of the route; otherwise the pool's (the proxy's default).
      ...(readMs === undefined ? {} : { headersTimeout: readMs, bodyTimeout: readMs }),
    };
    try {
      pools.get(target.origin, target.upstream).dispatch(options, attempt);
    } catch (error) {
      attempt.onResponseError(undefined, error as Error);
    }
  }

  // --- callbacks from the current attempt ---

  onUpstreamStart(attempt: UpstreamAttempt): void {
    if (this.#clientGone) attempt.abort(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'client went away'));
  }

  onUpstreamHeaders(
    attempt: UpstreamAttempt,
    controller: Dispatcher.DispatchController,
    statusCode: number,
    rawHeaders: readonly (Buffer | string)[],
  ): void {
    if (attempt !== this.#attempt || this.#clientGone) return;
    if (this.#replacedStatus === undefined) {
      this.#upstreamStatus = statusCode;
      // As nginx: proxy_next_upstream is tried before the error page takes over the status.
      if (this.#policy.on.statuses.length > 0 && this.#retryOnStatus(attempt, statusCode)) return;
      if (this.#attributes?.customHttpErrors?.includes(statusCode)) {
        this.#replaceResponse(controller, statusCode);
        return;
      }
    }
    this.#responseStarted = true;
    try {
      // An error backend's answer goes out with the status it replaces.
      const headers = clientResponseHeaders(rawHeaders, this.#ownHeaders);
      if (attempt.target.cookie !== undefined) this.#addSessionCookie(headers, attempt.target.cookie);
      this.#writeHead(this.#replacedStatus ?? statusCode, headers);
    } catch (error) {
      // A field Node refuses to write (invalid value): the upstream's fault, 502.
      this.#forwarder.options.logger.warn({ err: error, requestId: this.#requestId }, 'upstream response not writable');
      this.#responseStarted = false;
      controller.abort(new UpstreamError('PORTICO_ERR_UPSTREAM_BAD_RESPONSE', 'invalid upstream response header'));
    }
  }

  /** The attributes that choose this request's endpoints: none once a fallback backend serves it. */
  #selection(decision: Extract<RequestDecision, { kind: 'forward' }>): SelectionAttributes | undefined {
    return this.#onFallback ? undefined : selectionOf(decision);
  }

  #addSessionCookie(headers: string[], value: string): void {
    const decision = this.#decision;
    if (decision?.kind !== 'forward') return;
    const settings: SessionCookieSettings | undefined = this.#selection(decision)?.sessionCookie;
    if (settings === undefined) return;
    const line = sessionCookieLine(settings, value, {
      route: decision.route,
      https: this.#forwarder.options.scheme === 'https',
      userAgent: singleHeader(this.#req, 'user-agent'),
      nowMs: Date.now(),
    });
    headers.push('set-cookie', line);
  }

  /**
   * `custom-http-errors` (ingress-nginx): the upstream's response is dropped unread (its
   * connection is closed) and the `default-backend` is asked instead: `GET /` (HEAD stays HEAD)
   * without a body, with the client's headers and X-Code, X-Format (the Accept header),
   * X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port and
   * X-Request-ID, as ingress-nginx's error location sets them. Without a usable error backend
   * Portico answers the status itself with a short plain-text body.
   */
  #replaceResponse(controller: Dispatcher.DispatchController, status: number): void {
    this.#upstreamStatus = status;
    this.#replacedStatus = status;
    // Callbacks from the dropped attempt are ignored from here on.
    this.#attempt = undefined;
    controller.abort(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'response replaced by custom-http-errors'));
    this.#body?.detach();
    if (!this.#req.complete) this.#req.resume();
    const errorBackend = this.#attributes?.defaultBackend;
    const target = errorBackend && this.#forwarder.pickTarget(errorBackend, this.#clientIp, undefined);
    if (errorBackend === undefined || typeof target !== 'object') {
      this.#respondStatus(status);
      return;
    }
    const req = this.#req;
    const decision = this.#decision as Extract<RequestDecision, { kind: 'forward' }>;
    const slash = decision.ingress.indexOf('/');
    const ref = decision.backend.ref;
    const accept = singleHeader(req, 'accept');
    const clientHeaders = { ...req.headers };
    delete clientHeaders['content-length'];
    this.#headers = upstreamRequestHeaders(clientHeaders, {
      clientIp: this.#clientIp,
      scheme: this.#forwarder.options.scheme,
      localPort: req.socket.localPort,
      requestId: this.#requestId,
      routeHeaders: {
        'x-code': String(status),
        ...(accept === undefined ? {} : { 'x-format': accept }),
        'x-original-uri': req.url ?? '',
        'x-namespace': decision.ingress.slice(0, slash),
        'x-ingress-name': decision.ingress.slice(slash + 1),
        'x-service-name': ref?.service ?? '',
        'x-service-port': String(ref?.port ?? ''),
      },
    });
    this.#send(target, errorBackend, {
      path: '/',
      method: req.method === 'HEAD' ? 'HEAD' : 'GET',
      body: null,
      readMs: undefined,
      selection: undefined,
    });
  }

  onUpstreamData(attempt: UpstreamAttempt, controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (attempt !== this.#attempt || this.#clientGone || !this.#responseStarted) return;
    this.#bytesOut += chunk.length;
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#pausedController = controller;
      this.#clientWait(1);
      if (!this.#watchingDrain) {
        this.#watchingDrain = true;
        this.#res.on('drain', this.#onDrain);
      }
    }
  }

  /**
   * The client idle timeout (nginx `client_body_timeout` / `send_timeout`) runs only while
   * Portico waits on the client: the upstream wants body data the client has not sent, or the
   * client is not reading the response. Node destroys a socket whose timeout fires with nobody listening; the response's
   * close then aborts the upstream request. Waiting on the upstream never trips it.
   */
  #clientWait(delta: 1 | -1): void {
    const idleMs = this.#forwarder.options.timeouts.clientIdleMs;
    const before = this.#clientWaits;
    this.#clientWaits = Math.max(0, before + delta);
    // Once the response is finished the socket timeout is Node's keep-alive timer: leave it alone.
    if (idleMs <= 0 || this.#res.writableFinished || this.#req.socket === null) return;
    if (before === 0 && this.#clientWaits === 1) this.#setClientTimeout(idleMs);
    else if (before === 1 && this.#clientWaits === 0) this.#setClientTimeout(0);
  }

  /**
   * HTTP/1: the connection's timeout. HTTP/2: the stream's, since the connection is shared;
   * nothing closes a timed-out stream by itself, so Portico cancels it (RST_STREAM CANCEL).
   */
  #setClientTimeout(ms: number): void {
    if (this.#req.httpVersionMajor < 2) {
      this.#req.socket.setTimeout(ms);
      return;
    }
    const stream = (this.#res as unknown as { readonly stream?: Http2Stream }).stream;
    if (stream === undefined || stream.destroyed) return;
    if (!this.#cancelsOnTimeout) {
      this.#cancelsOnTimeout = true;
      stream.on('timeout', () => stream.close(http2Constants.NGHTTP2_CANCEL));
    }
    stream.setTimeout(ms);
  }

  onUpstreamEnd(attempt: UpstreamAttempt, trailers: IncomingHttpHeaders | undefined): void {
    if (attempt !== this.#attempt) return;
    this.#upstreamDurationMs = attempt.elapsedMs();
    this.#body?.detach();
    if (this.#clientGone) return;
    // gRPC's status travels in trailers. HTTP/2 clients get them as a trailing HEADERS frame;
    // HTTP/1.1 ones only on a chunked response (Node drops them otherwise).
    const fields = trailers === undefined ? undefined : clientTrailers(trailers);
    if (fields !== undefined) this.#res.addTrailers(fields);
    this.#res.end();
  }

  onUpstreamError(attempt: UpstreamAttempt, error: unknown): void {
    if (attempt !== this.#attempt) return;
    this.#upstreamDurationMs = attempt.elapsedMs();
    const failure: UpstreamFailure = this.#clientGone
      ? classifyUpstreamError(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'client went away'))
      : classifyUpstreamError(error);
    if (failure.phase === 'connect') this.#forwarder.options.metrics.connectError(failure.reason);
    const { logger } = this.#forwarder.options;
    if (this.#clientGone) {
      this.#errorCode ??= failure.code;
      this.#body?.detach();
      return;
    }
    if (this.#bodyTooLarge && !this.#responseStarted) {
      this.#body?.detach();
      this.#respondError('PORTICO_ERR_BODY_TOO_LARGE');
      return;
    }
    if (this.#responseStarted) {
      // Too late for a status: cut the client's response so it cannot pass for a complete one.
      this.#errorCode = failure.code;
      logger.warn(
        { requestId: this.#requestId, upstream: attempt.target.id, code: failure.code, err: error },
        'upstream failed mid-response',
      );
      this.#body?.detach();
      this.#res.destroy();
      return;
    }
    if (this.#replacedStatus !== undefined) {
      // The error backend failed too: the status it was to replace, with Portico's own body.
      this.#respondStatus(this.#replacedStatus);
      return;
    }
    // A request body that started to flow cannot be replayed.
    if (
      !this.#body?.started &&
      mayRetryFailure(
        this.#policy,
        failure.retryOn,
        this.#retryState(failure.phase !== 'connect' && attempt.requestStarted),
      ) &&
      this.#retry(attempt, failure.code)
    ) {
      return;
    }
    this.#body?.detach();
    this.#respondError(failure.code);
  }

  /**
   * A response status the route retries: unless this was the last try, the response is dropped
   * (read and discarded by its attempt) and the request goes to an endpoint not tried yet.
   * Only for requests without a body, which is all that can be sent again for certain.
   */
  #retryOnStatus(attempt: UpstreamAttempt, statusCode: number): boolean {
    if (this.#body !== null || !mayRetryStatus(this.#policy, statusCode, this.#retryState(true))) return false;
    if (!this.#retry(attempt, `HTTP ${statusCode}`)) return false;
    attempt.discard();
    return true;
  }

  #retryState(requestSent: boolean): RetryState {
    return {
      attempts: this.#attempts,
      elapsedMs: this.#forwarder.options.now() - this.#startedAt,
      method: this.#req.method ?? '',
      requestSent,
    };
  }

  /** Sends the request to an endpoint not tried yet; false when there is none. */
  #retry(attempt: UpstreamAttempt, why: string): boolean {
    const decision = this.#decision as Extract<RequestDecision, { kind: 'forward' }>;
    this.#tried ??= new Set([attempt.target.id]);
    const next = this.#forwarder.pickTarget(
      decision.backend,
      this.#clientIp,
      this.#tried,
      this.#req,
      this.#selection(decision),
    );
    if (typeof next !== 'object') return false;
    this.#forwarder.options.logger.debug(
      { requestId: this.#requestId, from: attempt.target.id, to: next.id, code: why },
      'retrying on another endpoint',
    );
    const ref = decision.backend.ref;
    this.#forwarder.options.metrics.retry(ref?.namespace ?? '', ref?.service ?? '');
    this.#dispatch(next, decision);
    return true;
  }

  #abortAttempt(reason: Error): void {
    this.#attempt?.abort(reason);
  }

  readonly #onDrain = (): void => {
    const controller = this.#pausedController;
    this.#pausedController = undefined;
    if (controller) this.#clientWait(-1);
    controller?.resume();
  };

  #respondError(code: PorticoErrorCode, status = statusOfError(code), extraHeaders: readonly string[] = []): void {
    this.#errorCode = code;
    this.#respondPlain(status, errorBody(status, code, this.#requestId), extraHeaders);
  }

  /** A status Portico answers without an error of its own (custom-http-errors without an error backend). */
  #respondStatus(status: number): void {
    this.#respondPlain(status, statusBody(status, this.#requestId));
  }

  /** Every response head goes out here: during a drain it says Connection: close (HTTP/1.1). */
  #writeHead(status: number, headers: readonly string[]): void {
    if (this.#forwarder.draining) closeAfterResponse(this.#res);
    this.#res.writeHead(status, headers as string[]);
  }

  #respondPlain(status: number, body: string, extraHeaders: readonly string[] = []): void {
    const res = this.#res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.#bytesOut += Buffer.byteLength(body);
    // After a malformed request the connection's framing is not to be trusted: close it (as nginx).
    if (status === 400 || status === 413) res.shouldKeepAlive = false;
    this.#writeHead(status, [
      'content-type',
      'text/plain; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(body)),
      'x-request-id',
      this.#requestId,
      ...extraHeaders,
      ...this.#ownHeaders,
    ]);
    res.end(body);
    // A body the upstream did not take is read and discarded, so the client can finish sending
    // and read this answer, and the connection stays usable (untouched bodies Node drains itself).
    if (this.#body?.started && !this.#req.complete) {
      this.#body.detach();
      this.#req.resume();
    }
  }

  readonly #onResponseClose = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#forwarder.inFlight--;
    if (this.#connectionKey !== undefined) this.#forwarder.options.limiter.release(this.#connectionKey);
    const res = this.#res;
    if (!res.writableFinished) {
      this.#clientGone = true;
      this.#abortAttempt(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'client went away'));
    }
    this.#body?.detach();
    if (this.#watchingDrain) res.off('drain', this.#onDrain);
    this.#log();
  };

  #log(): void {
    const { logger, metrics, now } = this.#forwarder.options;
    const res = this.#res;
    const status = res.headersSent ? res.statusCode : 499;
    const durationMs = now() - this.#startedAt;
    const decision = this.#decision;
    const ingress = decision && (decision.kind === 'forward' || decision.kind === 'redirect') ? decision.ingress : '';
    const service = decision?.kind === 'forward' ? (decision.backend.ref?.service ?? '') : '';
    const attempt = this.#attempt;
    const aborted = !res.writableFinished;
    metrics.observeRequest(ingress ?? '', service, status, durationMs / 1000);
    // The access line is built only when it will be written (the profile showed the object
    // being built for nothing at --log-level warn).
    if (!logger.isLevelEnabled('info')) return;
    logger.info(
      {
        requestId: this.#requestId,
        clientIp: this.#clientIp,
        method: this.#req.method,
        host: requestAuthority(this.#req),
        path: this.#req.url,
        status,
        bytesIn: this.#body?.bytes ?? 0,
        bytesOut: this.#bytesOut,
        durationMs: round(durationMs),
        upstreamAddress: attempt?.target.id,
        upstreamStatus: this.#upstreamStatus,
        upstreamDurationMs: this.#upstreamDurationMs === undefined ? undefined : round(this.#upstreamDurationMs),
        attempts: this.#attempts || undefined,
        ingress: ingress || undefined,
        service: decision?.kind === 'forward' && decision.backend.ref ? refName(decision.backend) : undefined,
        error: this.#errorCode ?? (aborted ? ('PORTICO_ERR_CLIENT_ABORTED' satisfies UpstreamErrorCode) : undefined),
      },
      'request',
    );
  }
}

/** One try against one endpoint; undici's handler. Callbacks from a superseded try are ignored. */
class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly target: UpstreamTarget;
  readonly #exchange: Exchange;
  readonly #picker: EndpointPicker | undefined;
  readonly #now: () => number;
  readonly #startedAt: number;
  #controller: Dispatcher.DispatchController | undefined;
  #pendingAbort: Error | undefined;
  #headersAt: number | undefined;
  #settled = false;
  /** bytes of a dropped response read so far; undefined while the response is wanted */
  #discarded: number | undefined;
  requestStarted = false;

  constructor(
    exchange: Exchange,
    forwarder: Forwarder,
    target: UpstreamTarget,
    backend: ResolvedBackend,
    attributes: SelectionAttributes | undefined,
  ) {
    this.#exchange = exchange;
    this.target = target;
    this.#picker = backend.kind === 'service' ? forwarder.pickerFor(backend, attributes) : undefined;
    this.#now = forwarder.options.now;
    this.#startedAt = this.#now();
  }

  begin(): void {
    this.#picker?.onStart(this.target.id);
  }

  elapsedMs(): number {
    return this.#now() - this.#startedAt;
  }

  abort(reason: Error): void {
    if (this.#settled) return;
    if (this.#controller) this.#controller.abort(reason);
    else this.#pendingAbort ??= reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.requestStarted = true;
    if (this.#pendingAbort) {
      controller.abort(this.#pendingAbort);
      return;
    }
    this.#exchange.onUpstreamStart(this);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#headersAt = this.#now();
    // HTTP/1.1 answers come with raw header lines (case and order kept); HTTP/2 ones (h2c
    // backends) only as an object, whose lowercase names are what HTTP/2 sends anyway.
    const raw = controller.rawHeaders;
    this.#exchange.onUpstreamHeaders(this, controller, statusCode, Array.isArray(raw) ? raw : flattenHeaders(headers));
  }

  /**
   * The response is not wanted (a retried status): it counts as a failure for the picker, and
   * its body is read and dropped so the connection can go back to the pool, unless it is long.
   */
  discard(): void {
    this.#discarded = 0;
    this.#settle(true);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#discarded === undefined) {
      this.#exchange.onUpstreamData(this, controller, chunk);
      return;
    }
    this.#discarded += chunk.length;
    if (this.#discarded > DISCARD_LIMIT_BYTES)
      controller.abort(new UpstreamError('PORTICO_ERR_CLIENT_ABORTED', 'dropped response too long to drain'));
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders | undefined): void {
    this.#settle(false);
    this.#exchange.onUpstreamEnd(this, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    const failure = classifyUpstreamError(error);
    this.#settle(
      failure.phase === 'connect' || (this.#headersAt === undefined && failure.code !== 'PORTICO_ERR_CLIENT_ABORTED'),
    );
    this.#exchange.onUpstreamError(this, error);
  }

  #settle(failed: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    const now = this.#now();
    this.#picker?.onEnd(this.target.id, (this.#headersAt ?? now) - this.#startedAt, failed, now);
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  return out;
}

function refName(backend: ResolvedBackend): string | undefined {
  const ref = backend.ref;
  return ref ? `${ref.namespace}/${ref.service}:${ref.port}` : undefined;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The last item of a set (its insertion order). */
function lastOf(items: ReadonlySet<string>): string | undefined {
  let last: string | undefined;
  for (const item of items) last = item;
  return last;
}

function speaksHttp2(upstream: UpstreamProtocol): boolean {
  return upstream.kind === 'h2c' || (upstream.kind === 'https' && upstream.http2 === true);
}

/**
 * HTTP/1.1: a body is announced by Transfer-Encoding or a non-zero Content-Length (RFC 9112
 * section 6.3). HTTP/2: unless the HEADERS frame ended the stream, DATA frames may follow with
 * no Content-Length at all (RFC 9113 section 8.1), as every gRPC call does.
 */
function hasRequestBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor >= 2) {
    const stream = (req as unknown as { readonly stream?: Http2Stream }).stream;
    return stream !== undefined && !stream.endAfterHeaders;
  }
  const contentLength = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (contentLength !== undefined && contentLength !== '0');
}
