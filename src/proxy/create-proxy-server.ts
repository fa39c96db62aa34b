// The data-plane listener: a server Fastify builds, listens on and closes, whose request
// handler hands every request (any method, any path, odd encodings included) to the forwarder,
// before anything parses a body or routes. Node's HTTP parser runs strict: a header section over the limit gets
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
//     options.https?     HttpsOptions: adds the HTTPS listener (TLS 1.2/1.3, SNI, HTTP/2 and
//                        HTTP/1.1 by ALPN on one port), sharing pools and pickers with HTTP
//   proxy.listen(port, host?) → Promise<AddressInfo>
//   proxy.listenHttps(port, host?) → Promise<AddressInfo>
//   proxy.refreshDefaultCertificate(): the certificate for clients sending no SNI, from the
//     table in force (call after each table swap)
//   proxy.close({ graceMs? }) → Promise<void>: stops accepting, answers in-flight keep-alive
//     requests with Connection: close, sends open WebSockets a 1001 close frame, lets in-flight
//     requests finish for up to graceMs (default 10 s; main.ts passes --shutdown-timeout), then
//     cuts what is left and closes upstream pools.

import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SecureContext } from 'node:tls';
import Fastify, { type FastifyHttp2SecureOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { PorticoMetrics } from '../admin/metrics.ts';
import { createClientIpAffinityPicker } from '../endpoints/client-ip-affinity-picker.ts';
import type { LoadBalanceAlgorithm } from '../endpoints/endpoint-picker.ts';
import { createEwmaPicker } from '../endpoints/ewma-picker.ts';
import { createRoundRobinPicker } from '../endpoints/round-robin-picker.ts';
import type { LiveState } from '../runtime/live-state.ts';
import { selectContext } from '../tls/select-context.ts';
import { createPolicyContext, type KeyPair, TLS_POLICY } from '../tls/tls-settings.ts';
import { createGuardedLookup, type GuardedLookupOptions, isLoopbackOrLinkLocal } from '../upstream/guarded-lookup.ts';
import { PoolRegistry } from '../upstream/pool-registry.ts';
import { BasicAuthGate } from './basic-auth-gate.ts';
import { type ClientAddressPolicy, resolveClientAddress, SOCKET_ONLY, socketClientAddress } from './client-address.ts';
import { Forwarder, type PickerSet } from './forward-request.ts';
import { endSocketWithError, type PorticoErrorCode, statusOfError } from './proxy-errors.ts';
import {
  DEFAULT_LOAD_BALANCE,
  DEFAULT_POOL_RECONCILE_INTERVAL_MS,
  DEFAULT_HTTP2_LIMITS,
  DEFAULT_PROXY_LIMITS,
  DEFAULT_PROXY_TIMEOUTS,
  type Http2Limits,
  type ProxyLimits,
  type ProxyTimeouts,
} from './proxy-options.ts';
import { acceptProxyProtocol, type ProxyProtocolReader } from './proxy-protocol.ts';
import { WebSocketProxy } from './proxy-websocket.ts';
import { requestIdFrom } from './request-id.ts';
import { RequestLimiter } from './request-limiter.ts';
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
  /** the HTTPS listener; without it there is none */
  readonly https?: HttpsOptions | undefined;
  /** --trust-forwarded-from / --proxy-protocol (src/proxy/client-address.ts); default: socket only */
  readonly clientAddress?: ClientAddressPolicy | undefined;
}

export interface HttpsOptions {
  /**
   * Served when no Secret applies and no usable --default-ssl-certificate is in the table:
   * the certificate generated at start.
   */
  readonly fallbackCertificate: KeyPair;
  /** Strict-Transport-Security value for every HTTPS response; undefined sends none */
  readonly strictTransportSecurity: string | undefined;
  readonly http2?: Partial<Http2Limits> | undefined;
  /** epoch milliseconds, for certificate expiry at handshake time (default `Date.now`) */
  readonly wallClock?: (() => number) | undefined;
}

export interface HttpsListener {
  readonly fastify: FastifyInstance<Http2SecureServer>;
  readonly server: Http2SecureServer;
}

export interface ProxyServer {
  readonly fastify: FastifyInstance;
  /** the Node server behind Fastify */
  readonly server: Server;
  /** the HTTPS listener, when `https` was given */
  readonly https: HttpsListener | undefined;
  listen(port: number, host?: string): Promise<AddressInfo>;
  listenHttps(port: number, host?: string): Promise<AddressInfo>;
  /** Points clients that send no SNI at the default certificate of the table in force. */
  refreshDefaultCertificate(): void;
  close(options?: { readonly graceMs?: number }): Promise<void>;
  /** Closes pools of endpoints that are gone now instead of at the next timer tick (tests, diagnostics). */
  reconcilePools(): void;
  /** origins that currently have an upstream pool */
  upstreamOrigins(): string[];
}

export const DEFAULT_CLOSE_GRACE_MS = 10_000;

/**
 * Node enforces headersTimeout only on a sweep every connectionsCheckingInterval (30 s by
 * default), so a slowloris client could hold a socket for the timeout plus a whole sweep.
 * requestTimeout is off: a request body may stream for long, and the client idle timeout
 * bounds a client that stalls.
 */
function headerTimeoutOptions(timeouts: ProxyTimeouts) {
  return {
    headersTimeout: timeouts.clientHeaderMs,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(timeouts.clientHeaderMs / 4))),
  };
}

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
  const pickers: PickerSet = {
    roundRobin: createRoundRobinPicker(),
    ewma: createEwmaPicker(options.random ? { random: options.random } : {}),
    clientIp: createClientIpAffinityPicker(),
    algorithm: options.loadBalance ?? DEFAULT_LOAD_BALANCE,
  };
  const limiter = new RequestLimiter({ maxClients: limits.maxLimitedClients, now });
  const auth = new BasicAuthGate();
  const clientAddress = options.clientAddress ?? SOCKET_ONLY;
  const proxyProtocolReaders: ProxyProtocolReader[] = [];
  /** --proxy-protocol: every connection starts with a PROXY header, read before HTTP or TLS. */
  const readProxyProtocol = (target: Server | Http2SecureServer, listener: string): void => {
    if (!clientAddress.proxyProtocol) return;
    proxyProtocolReaders.push(
      acceptProxyProtocol(target, {
        trusted: clientAddress.trusted,
        timeoutMs: timeouts.clientHeaderMs,
        onRefused(peer, reason) {
          logger.warn({ listener, peer, reason }, 'PROXY protocol header refused; connection closed');
        },
      }),
    );
  };
  const forwarderFor = (scheme: 'http' | 'https', responseHeaders: readonly string[]): Forwarder =>
    new Forwarder({
      state: options.state,
      pools,
      pickers,
      metrics,
      logger,
      timeouts,
      isForbiddenAddress,
      scheme,
      responseHeaders,
      now,
      limiter,
      limitStatusCode: limits.limitStatusCode,
      auth,
      clientAddress,
    });

  const forwarder = forwarderFor('http', []);
  const webSockets = new WebSocketProxy(forwarder, lookup);
  const app = Fastify({
    ...FRONT_OPTIONS,
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
      // RFC 9112 section 3.2 still holds (HTTP/1.1 without Host → 400), but the forwarder
      // answers it, so the 400 carries a body with the request id and gets an access-log line.
      requireHostHeader: false,
      shouldUpgradeCallback: isWebSocketUpgrade,
      ...headerTimeoutOptions(timeouts),
    },
    keepAliveTimeout: timeouts.clientKeepAliveMs,
    clientErrorHandler(error, socket) {
      answerClientError(error, socket);
    },
  });
  const server = app.server;
  sendEverythingTo(server, forwarder);
  attachRawEvents(server, webSockets, forwarder);
  readProxyProtocol(server, 'http');

  const forwarders = [forwarder];
  const allWebSockets = [webSockets];
  let https: HttpsFront | undefined;
  if (options.https) {
    const httpsForwarder = forwarderFor(
      'https',
      options.https.strictTransportSecurity === undefined
        ? []
        : ['strict-transport-security', options.https.strictTransportSecurity],
    );
    const httpsWebSockets = new WebSocketProxy(httpsForwarder, lookup);
    https = createHttpsFront(options.https, httpsForwarder, httpsWebSockets);
    forwarders.push(httpsForwarder);
    allWebSockets.push(httpsWebSockets);
  }

  function createHttpsFront(
    httpsOptions: HttpsOptions,
    httpsForwarder: Forwarder,
    sockets: WebSocketProxy,
  ): HttpsFront {
    const h2 = { ...DEFAULT_HTTP2_LIMITS, ...definedOnly(httpsOptions.http2) };
    const wallClock = httpsOptions.wallClock ?? Date.now;
    const fallback: SecureContext = createPolicyContext(httpsOptions.fallbackCertificate);
    let noSniCertificate: string | undefined;
    const tlsOptions = {
      ...TLS_POLICY,
      cert: httpsOptions.fallbackCertificate.certPem,
      key: httpsOptions.fallbackCertificate.keyPem,
      // The certificate is chosen per handshake from the table in force: a Secret update is
      // seen by the next handshake, while open connections keep what they negotiated.
      SNICallback(servername: string, callback: (error: Error | null, context?: SecureContext) => void): void {
        try {
          callback(null, selectContext(options.state.routing().table, servername, wallClock(), fallback));
        } catch (error) {
          logger.error({ err: error, servername }, 'SNI certificate selection failed; serving the fallback');
          callback(null, fallback);
        }
      },
      // HTTP/2 and HTTP/1.1 on one port, by ALPN (RFC 7301); h2 is preferred.
      allowHTTP1: true,
      settings: {
        maxConcurrentStreams: h2.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderBytes,
        enablePush: false,
      },
      maxSessionMemory: h2.maxSessionMemoryMb,
      // What Node's HTTP/1 parser reads from the server for connections that chose HTTP/1.1.
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
      requireHostHeader: false,
      shouldUpgradeCallback: isWebSocketUpgrade,
      keepAliveTimeout: timeouts.clientKeepAliveMs,
      ...headerTimeoutOptions(timeouts),
    };
    // Cast: Fastify types its options per server kind, while the hooks here serve both kinds,
    // and Node takes the HTTP/1 server options above on an HTTP/2 server that allows HTTP/1.1.
    const httpsApp = Fastify({
      ...FRONT_OPTIONS,
      http2: true,
      https: tlsOptions,
      // An HTTP/2 connection with no frames for this long is closed with GOAWAY (open streams finish).
      http2SessionTimeout: timeouts.clientKeepAliveMs,
      clientErrorHandler(error: Error, socket: Socket) {
        answerClientError(error, socket);
      },
    } as unknown as FastifyHttp2SecureOptions<Http2SecureServer>);
    const httpsServer = httpsApp.server;
    sendEverythingTo(httpsServer, httpsForwarder);
    attachRawEvents(httpsServer, sockets, httpsForwarder);
    readProxyProtocol(httpsServer, 'https');
    // Open TLS connections (HTTP/1.1 or HTTP/2), to cut what is left after the grace period.
    const connections = new Set<Socket>();
    httpsServer.on('secureConnection', (socket: Socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
    });
    httpsServer.on('tlsClientError', (error: Error & { code?: string }) => {
      logger.debug({ err: error, code: error.code }, 'TLS handshake failed');
    });
    return {
      fastify: httpsApp,
      server: httpsServer,
      connections,
      refreshDefaultCertificate(): void {
        // Clients without SNI get the server's own context: replace it when the default changed.
        const bound = options.state.routing().table.certificates?.defaultCertificate;
        const fingerprint = bound?.certificate.fingerprint;
        if (fingerprint === noSniCertificate) return;
        noSniCertificate = fingerprint;
        const pair = bound?.certificate ?? httpsOptions.fallbackCertificate;
        httpsServer.setSecureContext({ ...TLS_POLICY, cert: pair.certPem, key: pair.keyPem });
      },
    };
  }

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
      logger.info(
        {
          requestId,
          clientIp: socketClientAddress(socket, clientAddress),
          status,
          error: code,
          parserError: error.code,
        },
        'request',
      );
    }
  }

  function attachRawEvents(target: Server | Http2SecureServer, sockets: WebSocketProxy, front: Forwarder): void {
    target.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      sockets.handleUpgrade(req, socket, head),
    );
    target.on('connect', (req: IncomingMessage, socket: Socket) => {
      // HTTP/2 CONNECT arrives here as a request and its response (Node's compatibility API):
      // the forwarder answers 405 as an HTTP/2 response, with its access-log line.
      if (req.httpVersionMajor >= 2) {
        front.handle(req, socket as unknown as ServerResponse, requestIdFrom(req.headers['x-request-id']));
        return;
      }
      // CONNECT is for forward proxies; an Ingress controller tunnels nothing.
      socket.on('error', () => {});
      const requestId = requestIdFrom(req.headers['x-request-id']);
      endSocketWithError(socket, 'PORTICO_ERR_METHOD_NOT_ALLOWED', requestId);
      logger.info(
        {
          requestId,
          clientIp: resolveClientAddress(req, clientAddress).clientIp,
          method: req.method,
          path: req.url,
          status: 405,
        },
        'request',
      );
    });
  }

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
    https: https && { fastify: https.fastify, server: https.server },
    async listen(port: number, host?: string): Promise<AddressInfo> {
      await app.listen(host === undefined ? { port } : { port, host });
      return server.address() as AddressInfo;
    },
    async listenHttps(port: number, host?: string): Promise<AddressInfo> {
      if (https === undefined) throw new Error('this proxy was made without the https option');
      https.refreshDefaultCertificate();
      await https.fastify.listen(host === undefined ? { port } : { port, host });
      return https.server.address() as AddressInfo;
    },
    refreshDefaultCertificate(): void {
      https?.refreshDefaultCertificate();
    },
    close(closeOptions = {}): Promise<void> {
      closing ??= (async () => {
        clearInterval(reconcileTimer);
        // From here every HTTP/1.1 response says Connection: close, so clients stop sending on
        // connections about to be closed (RFC 9112 section 9.6).
        for (const draining of forwarders) draining.startDraining();
        const graceMs = closeOptions.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
        const deadline = now() + graceMs;
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        for (const reader of proxyProtocolReaders) reader.closeWaiting();
        const closed = Promise.all([app.close(), https?.fastify.close()]);
        const destroyWebSockets = (): void => {
          for (const sockets of allWebSockets) sockets.destroyAll();
        };
        // Open WebSockets are told 1001 Going Away now; the listeners accept nothing more.
        const webSocketsClosed = Promise.all(allWebSockets.map((sockets) => sockets.goAway()));
        await Promise.race([closed, graceOver, Promise.all([idle(forwarders), webSocketsClosed])]);
        // A response that started before the drain could not say Connection: close: its
        // connection is idle now, and nothing else would close it.
        server.closeIdleConnections();
        destroyWebSockets();
        await Promise.race([closed, graceOver]);
        clearTimeout(timer);
        server.closeAllConnections();
        for (const socket of https?.connections ?? []) socket.destroy();
        destroyWebSockets();
        await closed;
        for (const sockets of allWebSockets) sockets.close();
        await Promise.all([pools.close(Math.max(0, deadline - now())), auth.close()]);
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

interface HttpsFront extends HttpsListener {
  readonly connections: ReadonlySet<Socket>;
  refreshDefaultCertificate(): void;
}

/** Only WebSocket upgrades take the upgrade path; `Upgrade: h2c` and the like are plain requests whose Upgrade header is dropped as hop-by-hop. */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return /^websocket$/i.test(req.headers.upgrade ?? '');
}

/** What both listeners' Fastify instances share: Fastify builds, listens and closes the server. */
const FRONT_OPTIONS: FastifyServerOptions = {
  logger: false,
  // During shutdown, requests on open keep-alive connections are still served (with Connection: close).
  return503OnClosing: false,
};

/**
 * Every request goes to the forwarder, any method, any path, odd encodings included. Fastify
 * made the server and registered its own request handler; that handler is replaced, so Fastify
 * neither routes nor decorates a request the forwarder would take over at once anyway (its
 * request and reply objects, router lookup and hook chain were about a tenth of the proxy's
 * per-request allocations). HTTP/2 requests arrive as Node's compatibility objects, which the
 * forwarder treats like HTTP/1 ones (it checks `httpVersionMajor` where they differ).
 */
function sendEverythingTo(server: Server | Http2SecureServer, forwarder: Forwarder): void {
  for (const listener of server.listeners('request')) server.removeListener('request', listener as () => void);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    forwarder.handle(req, res, requestIdFrom(req.headers['x-request-id']));
  });
}

/** Resolves once no HTTP request is in flight on any listener (upgraded sockets aside). */
function idle(forwarders: readonly Forwarder[]): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (forwarders.every((forwarder) => forwarder.inFlight === 0)) resolve();
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
