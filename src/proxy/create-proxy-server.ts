// The data-plane listener: a Fastify front whose single onRequest hook hands every request
// (any method, any path, odd encodings included) to the forwarder, before Fastify parses a body
// or routes anything. Node's HTTP parser runs strict: a header section over the limit gets
// 431, anything malformed 400, both as short plain text with a request id.
//
// API for the wiring (src/main.ts):
//
//   createProxyServer(options: ProxyServerOptions): ProxyServer
//     options.state      LiveState: routing() read once per request; endpoints per backend
//     options.logger     pino Logger: one JSON access line per request (msg "request")
//     options.metrics    PorticoMetrics: requests, requestDuration, upstreamConnectErrors, retries
//     options.timeouts?  Partial<ProxyTimeouts>  (defaults: DEFAULT_PROXY_TIMEOUTS)
//     options.limits?    Partial<ProxyLimits>    (defaults: DEFAULT_PROXY_LIMITS)
//     options.loadBalance?  'round_robin' (default) | 'ewma'
//   proxy.listen(port, host?) → Promise<AddressInfo>
//   proxy.close({ graceMs? }) → Promise<void>: stops accepting, lets in-flight requests finish
//     for up to graceMs (default 10 s), then cuts what is left and closes upstream pools.

import { METHODS, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PorticoMetrics } from '../admin/metrics.ts';
import { createClientIpAffinityPicker } from '../endpoints/client-ip-affinity-picker.ts';
import type { LoadBalanceAlgorithm } from '../endpoints/endpoint-picker.ts';
import { createEwmaPicker } from '../endpoints/ewma-picker.ts';
import { createRoundRobinPicker } from '../endpoints/round-robin-picker.ts';
import type { LiveState } from '../runtime/live-state.ts';
import { createGuardedLookup, type GuardedLookupOptions, isLoopbackOrLinkLocal } from '../upstream/guarded-lookup.ts';
import { PoolRegistry } from '../upstream/pool-registry.ts';
import { clientAddressOf, Forwarder } from './forward-request.ts';
import { endSocketWithError, type PorticoErrorCode, statusOfError } from './proxy-errors.ts';
import {
  DEFAULT_LOAD_BALANCE,
  DEFAULT_POOL_RECONCILE_INTERVAL_MS,
  DEFAULT_PROXY_LIMITS,
  DEFAULT_PROXY_TIMEOUTS,
  type ProxyLimits,
  type ProxyTimeouts,
} from './proxy-options.ts';
import { WebSocketProxy } from './proxy-websocket.ts';
import { requestIdFrom } from './request-id.ts';
import { RequestMetrics } from './request-metrics.ts';

export interface ProxyServerOptions {
  readonly state: LiveState;
  readonly logger: Logger;
  readonly metrics: PorticoMetrics;
  readonly timeouts?: Partial<ProxyTimeouts> | undefined;
  readonly limits?: Partial<ProxyLimits> | undefined;
  readonly loadBalance?: LoadBalanceAlgorithm | undefined;
  /** resolver and address policy for ExternalName backends (tests inject both) */
  readonly externalNames?: GuardedLookupOptions | undefined;
  readonly poolReconcileIntervalMs?: number | undefined;
  /** monotonic ms clock (default `performance.now`) */
  readonly now?: (() => number) | undefined;
  /** random source for the EWMA picker's two choices (default `Math.random`) */
  readonly random?: (() => number) | undefined;
}

export interface ProxyServer {
  readonly fastify: FastifyInstance;
  /** the Node server behind Fastify */
  readonly server: Server;
  listen(port: number, host?: string): Promise<AddressInfo>;
  close(options?: { readonly graceMs?: number }): Promise<void>;
  /** Closes pools of endpoints that are gone now instead of at the next timer tick (tests, diagnostics). */
  reconcilePools(): void;
  /** origins that currently have an upstream pool */
  upstreamOrigins(): string[];
}

export const DEFAULT_CLOSE_GRACE_MS = 10_000;

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const timeouts: ProxyTimeouts = { ...DEFAULT_PROXY_TIMEOUTS, ...definedOnly(options.timeouts) };
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...definedOnly(options.limits) };
  const { logger } = options;
  const now = options.now ?? (() => performance.now());
  const isForbiddenAddress = options.externalNames?.isForbidden ?? isLoopbackOrLinkLocal;
  const lookup = createGuardedLookup({ ...options.externalNames, isForbidden: isForbiddenAddress });
  const metrics = new RequestMetrics(options.metrics);
  const pools = new PoolRegistry({
    connectTimeoutMs: timeouts.connectMs,
    headersTimeoutMs: timeouts.readMs,
    bodyTimeoutMs: timeouts.readMs,
    keepAliveTimeoutMs: timeouts.upstreamKeepAliveMs,
    connectionsPerOrigin: limits.connectionsPerOrigin,
    lookup,
  });
  const forwarder = new Forwarder({
    state: options.state,
    pools,
    pickers: {
      roundRobin: createRoundRobinPicker(),
      ewma: createEwmaPicker(options.random ? { random: options.random } : {}),
      clientIp: createClientIpAffinityPicker(),
      algorithm: options.loadBalance ?? DEFAULT_LOAD_BALANCE,
    },
    metrics,
    logger,
    timeouts,
    isForbiddenAddress,
    scheme: 'http',
    now,
  });
  const webSockets = new WebSocketProxy(forwarder, lookup);

  const app = Fastify({
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
      // RFC 9112 section 3.2 still holds (HTTP/1.1 without Host → 400), but the forwarder
      // answers it, so the 400 carries a body with the request id and gets an access-log line.
      requireHostHeader: false,
      // Only WebSocket upgrades take the upgrade path; `Upgrade: h2c` and the like are plain
      // requests whose Upgrade header is dropped as hop-by-hop.
      shouldUpgradeCallback: (req) => /^websocket$/i.test(req.headers.upgrade ?? ''),
    },
    logger: false,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    keepAliveTimeout: timeouts.clientKeepAliveMs,
    // During shutdown, requests on open keep-alive connections are still served (with Connection: close).
    return503OnClosing: false,
    exposeHeadRoutes: false,
    // The router's query parsing is work nobody reads: the raw target goes to resolveRequest.
    routerOptions: { querystringParser: () => ({}) },
    clientErrorHandler(error, socket) {
      answerClientError(error, socket);
    },
    // URLs the router cannot decode still belong to resolveRequest, which has its own rules.
    frameworkErrors(_error, request, reply) {
      reply.hijack();
      forwarder.handle(request.raw, reply.raw, request.id);
    },
  });

  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }
  app.addHook('onRequest', (request, reply, _done) => {
    // Never calls done: the reply is ours from here, Fastify parses no body and runs no handler.
    reply.hijack();
    forwarder.handle(request.raw, reply.raw, request.id);
  });
  app.all('*', () => undefined);

  function answerClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code: PorticoErrorCode =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'PORTICO_ERR_HEADERS_TOO_LARGE'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'PORTICO_ERR_REQUEST_TIMEOUT'
          : 'PORTICO_ERR_BAD_REQUEST';
    const requestId = requestIdFrom(undefined);
    const status = statusOfError(code);
    if (endSocketWithError(socket, code, requestId)) {
      metrics.observeRequest('', '', status, 0);
      const address = socket.remoteAddress ?? '';
      logger.info(
        {
          requestId,
          clientIp: address.startsWith('::ffff:') ? address.slice(7) : address,
          status,
          error: code,
          parserError: error.code,
        },
        'request',
      );
    }
  }

  const server = app.server;
  server.on('upgrade', (req, socket, head) => webSockets.handleUpgrade(req, socket, head));
  server.on('connect', (req, socket) => {
    // CONNECT is for forward proxies; an Ingress controller tunnels nothing.
    socket.on('error', () => {});
    const requestId = requestIdFrom(req.headers['x-request-id']);
    endSocketWithError(socket as Socket, 'PORTICO_ERR_METHOD_NOT_ALLOWED', requestId);
    logger.info(
      { requestId, clientIp: clientAddressOf(req), method: req.method, path: req.url, status: 405 },
      'request',
    );
  });

  const reconcileEveryMs = options.poolReconcileIntervalMs ?? DEFAULT_POOL_RECONCILE_INTERVAL_MS;
  const reconcileTimer = setInterval(() => {
    try {
      forwarder.reconcile();
    } catch (error) {
      logger.error({ err: error }, 'upstream pool reconcile failed');
    }
  }, reconcileEveryMs);
  reconcileTimer.unref();

  let closing: Promise<void> | undefined;

  return {
    fastify: app,
    server,
    async listen(port: number, host?: string): Promise<AddressInfo> {
      await app.listen(host === undefined ? { port } : { port, host });
      return server.address() as AddressInfo;
    },
    close(closeOptions = {}): Promise<void> {
      closing ??= (async () => {
        clearInterval(reconcileTimer);
        const graceMs = closeOptions.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
        const deadline = now() + graceMs;
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        const closed = app.close();
        // Open WebSockets are not requests in flight: they are cut once the requests have drained.
        await Promise.race([closed, graceOver, idle(forwarder)]);
        webSockets.destroyAll();
        await Promise.race([closed, graceOver]);
        clearTimeout(timer);
        server.closeAllConnections();
        webSockets.destroyAll();
        await closed;
        webSockets.close();
        await pools.close(Math.max(0, deadline - now()));
      })();
      return closing;
    },
    reconcilePools(): void {
      forwarder.reconcile();
    },
    upstreamOrigins(): string[] {
      return pools.origins();
    },
  };
}

/** Resolves once no HTTP request is in flight (upgraded sockets aside). */
function idle(forwarder: Forwarder): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (forwarder.inFlight === 0) resolve();
      else setTimeout(check, 25);
    };
    check();
  });
}

function definedOnly<T extends object>(values: Partial<T> | undefined): Partial<T> {
  const out: Partial<T> = {};
  for (const key in values) if (values[key] !== undefined) out[key] = values[key];
  return out;
}
