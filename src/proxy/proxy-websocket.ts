// WebSocket upgrades (issue 3 item 4): routed by the same table and pickers as plain requests,
// then handed to http-proxy, which relays the handshake and pipes the two sockets. Requests
// with no route or no endpoint get a raw HTTP error on the socket. The handshake has the
// connect and read timeouts; an open WebSocket has none (it may idle as long as both ends like).
// At shutdown, `goAway()` ends each open WebSocket with a close frame, code 1001 Going Away
// (RFC 6455 section 7.4.1), towards the client and towards the backend.

import { randomBytes } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import HttpProxy from 'http-proxy';
import { type RequestDecision, selectionOf } from '../routing/resolve-request.ts';
import type { UpstreamTls } from '../routing/route-table.ts';
import { sourceDenied } from '../routing/source-range.ts';
import { type ConnectLookup, resolveGuarded } from '../upstream/guarded-lookup.ts';
import { originOf } from '../upstream/pool-registry.ts';
import { classifyUpstreamError, UpstreamError } from '../upstream/upstream-error-status.ts';
import { upstreamRequestHeaders } from './forward-headers.ts';
import { type AuthVerdict, basicChallenge } from './basic-auth-gate.ts';
import { resolveClientAddress, SOCKET_ONLY } from './client-address.ts';
import { authErrorOf, type Forwarder } from './forward-request.ts';
import { type PorticoErrorCode, rawErrorResponse, statusOfError } from './proxy-errors.ts';
import { requestIdFrom } from './request-id.ts';

interface UpgradeContext {
  readonly requestId: string;
  readonly startedAt: number;
  readonly clientIp: string;
  readonly forwardedFor: string;
  readonly method: string;
  readonly host: string | undefined;
  readonly path: string | undefined;
  ingress: string;
  service: string;
  serviceRef: string | undefined;
  upstream: string | undefined;
  /** the route's `proxy-connect-timeout`, when it has one */
  connectMs: number | undefined;
  status: number | undefined;
  error: PorticoErrorCode | undefined;
  /** the backend's socket once the handshake succeeded */
  upstreamSocket: Socket | undefined;
}

/** RFC 6455 section 7.4.1: 1001, "an endpoint is going away, such as a server going down". */
const GOING_AWAY = 1001;
const GOING_AWAY_REASON = 'server shutting down';
/** How long a client gets to answer our close frame before its socket is destroyed. */
const CLOSE_HANDSHAKE_WAIT_MS = 1_000;

/**
 * A close frame (RFC 6455 section 5.5.1): FIN + opcode 0x8, the code and a short reason. Frames
 * a client sends are masked (section 5.3), so the one for the backend carries a masking key.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8')]);
  if (payload.length > 125) throw new RangeError('a close frame payload is at most 125 bytes');
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, body]);
}

/** One connection's TLS settings towards an HTTPS backend (the agent keeps no sockets). */
function tlsAgentFor(tls: UpstreamTls, hostname: string | undefined): HttpsAgent {
  const servername = tls.serverName ?? hostname;
  return new HttpsAgent({
    keepAlive: false,
    rejectUnauthorized: tls.verify,
    ...(servername === undefined ? {} : { servername }),
    ...(tls.caPem === undefined ? {} : { ca: tls.caPem }),
    ...(tls.clientCertificate === undefined
      ? {}
      : { cert: tls.clientCertificate.certPem, key: tls.clientCertificate.keyPem }),
  });
}

export class WebSocketProxy {
  readonly #forwarder: Forwarder;
  readonly #lookup: ConnectLookup;
  readonly #proxy: HttpProxy;
  /** open upgraded sockets (and handshakes in progress), with their context */
  readonly #sockets = new Map<Duplex, UpgradeContext>();
  readonly #contexts = new WeakMap<IncomingMessage, UpgradeContext>();

  constructor(forwarder: Forwarder, lookup: ConnectLookup) {
    this.#forwarder = forwarder;
    this.#lookup = lookup;
    // xfwd off: the X-Forwarded-* set is Portico's own, the same as for plain requests.
    this.#proxy = HttpProxy.createProxyServer({ ws: true, xfwd: false });
    this.#proxy.on('proxyReqWs', (proxyReq, req) => this.#watchHandshake(proxyReq, req));
    // Errors are reported through each call's callback; this only keeps the emitter from throwing.
    this.#proxy.on('error', () => {});
  }

  /** Open upgraded sockets (and handshakes in progress). */
  get size(): number {
    return this.#sockets.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const now = this.#forwarder.options.now;
    const context: UpgradeContext = {
      requestId: requestIdFrom(req.headers['x-request-id']),
      startedAt: now(),
      ...resolveClientAddress(req, this.#forwarder.options.clientAddress ?? SOCKET_ONLY),
      method: req.method ?? '',
      host: req.headers.host,
      path: req.url,
      ingress: '',
      service: '',
      serviceRef: undefined,
      upstream: undefined,
      connectMs: undefined,
      status: undefined,
      error: undefined,
      upstreamSocket: undefined,
    };
    this.#contexts.set(req, context);
    this.#sockets.set(socket, context);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#log(context);
    });
    try {
      this.#route(req, socket, head, context);
    } catch (error) {
      this.#forwarder.options.logger.error({ err: error, requestId: context.requestId }, 'upgrade handler failed');
      this.#refuse(socket, context, 'PORTICO_ERR_INTERNAL');
    }
  }

  /**
   * Shutdown: every open WebSocket gets a 1001 close frame on both sides, its pipes cut first
   * so no more frames pass. The client's socket is ended once it answers (or after a short
   * wait); the backend's is ended at once. Handshakes still in progress are left to finish or
   * to `destroyAll`. Resolves once every socket that was told has closed.
   */
  goAway(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [socket, context] of this.#sockets) {
      const upstream = context.upstreamSocket;
      if (upstream === undefined || socket.destroyed) continue;
      closing.push(
        new Promise((resolve) => {
          socket.once('close', () => resolve());
          // http-proxy pipes upstream → client → upstream.
          upstream.unpipe(socket as NodeJS.WritableStream);
          socket.unpipe(upstream);
          if (!upstream.destroyed) upstream.end(closeFrame(GOING_AWAY, GOING_AWAY_REASON, true));
          const finish = (): void => {
            clearTimeout(timer);
            socket.destroy();
          };
          const timer = setTimeout(finish, CLOSE_HANDSHAKE_WAIT_MS);
          // Whatever the client sends now is its close frame (or a frame we no longer relay).
          socket.once('data', finish);
          socket.once('end', finish);
          socket.resume();
          socket.end(closeFrame(GOING_AWAY, GOING_AWAY_REASON, false));
        }),
      );
    }
    return Promise.all(closing).then(() => undefined);
  }

  /** Ends every open WebSocket at once (what `goAway` left, once the shutdown timeout is over). */
  destroyAll(): void {
    for (const socket of this.#sockets.keys()) socket.destroy();
    this.#sockets.clear();
  }

  close(): void {
    this.#proxy.close();
  }

  #route(req: IncomingMessage, socket: Duplex, head: Buffer, context: UpgradeContext): void {
    const decision = this.#forwarder.resolve(req);
    if (decision.kind === 'bad-request' || decision.kind === 'not-found') {
      this.#refuse(
        socket,
        context,
        decision.kind === 'bad-request' ? 'PORTICO_ERR_BAD_REQUEST' : 'PORTICO_ERR_NO_ROUTE',
      );
      return;
    }
    if (decision.kind === 'redirect') {
      context.ingress = decision.ingress ?? '';
      context.status = decision.status;
      socket.end(
        `HTTP/1.1 ${decision.status} ${STATUS_CODES[decision.status] ?? 'Redirect'}\r\n` +
          `Location: ${decision.location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    context.ingress = decision.ingress;
    const attributes = decision.route?.attributes;
    if (sourceDenied(context.clientIp, attributes?.allowSourceRanges, attributes?.denySourceRanges)) {
      this.#refuse(socket, context, 'PORTICO_ERR_FORBIDDEN');
      return;
    }
    // limit-rps/-rpm count the handshake; limit-connections holds a slot while the socket is open.
    if (attributes?.limits !== undefined) {
      const { limiter, limitStatusCode } = this.#forwarder.options;
      const verdict = limiter.admit(attributes.limits, context.clientIp);
      if (verdict.kind === 'refused') {
        const code = verdict.reason === 'rate' ? 'PORTICO_ERR_RATE_LIMITED' : 'PORTICO_ERR_TOO_MANY_CONNECTIONS';
        this.#refuse(socket, context, code, limitStatusCode);
        return;
      }
      const slot = verdict.connectionKey;
      if (slot !== undefined) socket.once('close', () => limiter.release(slot));
    }
    const auth = attributes?.auth;
    if (auth === undefined) {
      this.#routeAllowed(req, socket, head, context, decision);
      return;
    }
    const gate = this.#forwarder.options.auth;
    const verdict = gate ? gate.check(auth, req.headers.authorization) : 'unavailable';
    const proceed = (outcome: AuthVerdict): void => {
      if (outcome === 'pass') this.#routeAllowed(req, socket, head, context, decision);
      else if (outcome === 'challenge')
        this.#refuse(socket, context, 'PORTICO_ERR_UNAUTHORIZED', undefined, basicChallenge(auth));
      else this.#refuse(socket, context, authErrorOf(outcome));
    };
    if (typeof verdict === 'string') proceed(verdict);
    else {
      verdict
        .then((outcome) => {
          if (!socket.destroyed) proceed(outcome);
        })
        .catch(() => this.#refuse(socket, context, 'PORTICO_ERR_INTERNAL'));
    }
  }

  #routeAllowed(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    context: UpgradeContext,
    decision: Extract<RequestDecision, { kind: 'forward' }>,
  ): void {
    const { scheme } = this.#forwarder.options;
    const attributes = decision.route?.attributes;
    const ref = decision.backend.ref;
    context.service = ref?.service ?? '';
    context.serviceRef = ref ? `${ref.namespace}/${ref.service}:${ref.port}` : undefined;
    // Cookie affinity and upstream-hash-by place the handshake too; a new session's cookie is
    // not added to the 101 (the page that opens the socket normally has one already).
    const target = this.#forwarder.pickTarget(
      decision.backend,
      context.clientIp,
      undefined,
      req,
      selectionOf(decision),
    );
    if (typeof target === 'string' || target === undefined) {
      this.#refuse(socket, context, target ?? 'PORTICO_ERR_NO_ENDPOINTS');
      return;
    }
    context.upstream = target.id;
    context.connectMs = target.upstream.connectTimeoutMs;

    const headers = upstreamRequestHeaders(req.headers, {
      clientIp: context.clientIp,
      forwardedFor: context.forwardedFor,
      scheme,
      localPort: req.socket.localPort,
      requestId: context.requestId,
      routeHeaders: decision.upstreamHeaders,
      dropAuthorization: attributes?.auth !== undefined,
    });
    const outgoing: Record<string, string | string[]> = Object.create(null);
    for (let index = 0; index < headers.length; index += 2) {
      const name = headers[index] as string;
      const value = headers[index + 1] as string;
      const prior = outgoing[name];
      outgoing[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
    outgoing.connection = 'Upgrade';
    outgoing.upgrade = req.headers.upgrade ?? 'websocket';
    req.headers = outgoing;
    req.url = decision.upstreamPath;

    const upstream = target.upstream;
    const proxyTo = (origin: string, hostname: string | undefined): void => {
      // An HTTPS backend gets the handshake over TLS, with the route's proxy-ssl-* settings;
      // h2c backends are asked for the upgrade over HTTP/1.1 (WebSockets over HTTP/2 need RFC 8441).
      const options: HttpProxy.ServerOptions =
        upstream.kind === 'https'
          ? {
              target: `https://${origin.slice('http://'.length)}`,
              secure: upstream.tls.verify,
              agent: tlsAgentFor(upstream.tls, hostname),
            }
          : { target: origin };
      this.#proxy.ws(req, socket, head, options, (error) => this.#onProxyError(socket, context, error));
    };
    const backend = decision.backend;
    if (backend.kind === 'external-name') {
      // http-proxy connects with Node's own lookup: resolve (and vet) the name first.
      resolveGuarded(this.#lookup, backend.hostname).then(
        (address) => {
          if (!socket.destroyed) proxyTo(originOf(address, backend.port), backend.hostname);
        },
        (error: unknown) => this.#onProxyError(socket, context, error),
      );
    } else {
      proxyTo(`http://${target.id}`, undefined);
    }
  }

  #watchHandshake(proxyReq: ClientRequest, req: IncomingMessage): void {
    const context = this.#contexts.get(req);
    const { readMs } = this.#forwarder.options.timeouts;
    const connectMs = context?.connectMs ?? this.#forwarder.options.timeouts.connectMs;
    let timer = setTimeout(() => {
      proxyReq.destroy(new UpstreamError('PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT', 'WebSocket connect timed out'));
    }, connectMs);
    proxyReq.once('socket', (upstream: Socket) => {
      upstream.once('connect', () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          proxyReq.destroy(new UpstreamError('PORTICO_ERR_UPSTREAM_READ_TIMEOUT', 'WebSocket handshake timed out'));
        }, readMs);
      });
    });
    const settle = (status: number): void => {
      clearTimeout(timer);
      if (context) context.status ??= status;
    };
    proxyReq.once('upgrade', (_response: IncomingMessage, upstream: Socket) => {
      settle(101);
      if (context) context.upstreamSocket = upstream;
    });
    proxyReq.once('response', (response: IncomingMessage) => settle(response.statusCode ?? 502));
    proxyReq.once('close', () => clearTimeout(timer));
  }

  #onProxyError(socket: Duplex, context: UpgradeContext, error: unknown): void {
    const failure = classifyUpstreamError(error);
    if (failure.phase === 'connect') this.#forwarder.options.metrics.connectError(failure.reason);
    context.error ??= failure.code;
    // Only a socket nothing was written to can still take a status line.
    if (context.status === undefined && (socket as Socket).bytesWritten === 0 && socket.writable) {
      context.status = failure.status;
      socket.end(rawErrorResponse(failure.code, context.requestId));
    } else {
      socket.destroy();
    }
  }

  #refuse(
    socket: Duplex,
    context: UpgradeContext,
    code: PorticoErrorCode,
    status = statusOfError(code),
    challenge?: string,
  ): void {
    context.error = code;
    context.status = status;
    if (socket.writable) socket.end(rawErrorResponse(code, context.requestId, status, challenge));
    else socket.destroy();
  }

  #log(context: UpgradeContext): void {
    const { logger, metrics, now } = this.#forwarder.options;
    const status = context.status ?? 499;
    const durationMs = now() - context.startedAt;
    metrics.observeRequest(context.ingress, context.service, status, durationMs / 1000);
    logger.info(
      {
        requestId: context.requestId,
        clientIp: context.clientIp,
        method: context.method,
        host: context.host,
        path: context.path,
        status,
        upgrade: 'websocket',
        durationMs: Math.round(durationMs * 1000) / 1000,
        upstreamAddress: context.upstream,
        ingress: context.ingress || undefined,
        service: context.serviceRef,
        error: context.error,
      },
      'request',
    );
  }
}
