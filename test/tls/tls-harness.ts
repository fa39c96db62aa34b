// TLS test support: certificates made in the test (src/tls/generate-certificate.ts, the same
// code as the default certificate), Secrets and TLS Ingresses as manifest YAML, a live state
// that runs the real compile + TLS step, a proxy with both listeners, and real TLS clients
// (node:tls for handshakes, node:https for HTTP/1.1, node:http2 for h2, ws for WebSockets).

import { X509Certificate } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { type ClientHttp2Session, connect as http2Connect, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { createMetrics } from '../../src/admin/metrics.ts';
import { compile } from '../../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/proxy/create-proxy-server.ts';
import type { EndpointView, LiveState, RoutingState } from '../../src/runtime/live-state.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { compileWithTls, type Compiler } from '../../src/tls/compile-with-tls.ts';
import { type GeneratedCertificate, generateCertificate } from '../../src/tls/generate-certificate.ts';
import { recordsFromYaml, TestLiveState } from '../support/test-live-state.ts';

export { generateCertificate, type GeneratedCertificate };

/** A kubernetes.io/tls Secret in `default` with PEM as stringData. */
export function tlsSecretYaml(
  name: string,
  pair: { readonly certPem: string; readonly keyPem: string },
  options: { readonly type?: string; readonly namespace?: string } = {},
): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${options.namespace ?? 'default'} }
type: ${options.type ?? 'kubernetes.io/tls'}
stringData:
  tls.crt: ${JSON.stringify(pair.certPem)}
  tls.key: ${JSON.stringify(pair.keyPem)}
`;
}

export interface TlsIngressOptions {
  readonly hosts: readonly string[];
  readonly service?: string;
  readonly tls?: readonly { readonly hosts: readonly string[]; readonly secretName?: string }[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
}

/** An Ingress with one `/` rule per host, all to `service:80`, and the given spec.tls. */
export function tlsIngressYaml(name: string, options: TlsIngressOptions): string {
  const rules = options.hosts.map(
    (host) => `    - host: ${JSON.stringify(host)}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: { service: { name: ${options.service ?? 'web'}, port: { number: 80 } } }`,
  );
  const tls = (options.tls ?? []).map(
    (entry) =>
      `    - hosts: ${JSON.stringify(entry.hosts)}${entry.secretName ? `\n      secretName: ${entry.secretName}` : ''}`,
  );
  const annotations = Object.entries(options.annotations ?? {}).map(
    ([key, value]) => `    ${key}: ${JSON.stringify(value)}`,
  );
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  creationTimestamp: '${options.creationTimestamp ?? '2026-01-01T00:00:00Z'}'
${annotations.length ? `  annotations:\n${annotations.join('\n')}\n` : ''}spec:
  ingressClassName: portico
  rules:
${rules.join('\n')}
${tls.length ? `  tls:\n${tls.join('\n')}\n` : ''}`;
}

/**
 * LiveState for TLS tests: routes and certificates from the real compile + TLS step (what the
 * control loop runs), endpoints through TestLiveState's view.
 */
export class TlsTestState implements LiveState {
  readonly #endpoints: TestLiveState;
  readonly #compile: Compiler;
  #routing: RoutingState;
  diagnostics: readonly Diagnostic[] = [];

  constructor(yaml: string, options: { readonly defaultCertificateSecret?: string; readonly now?: () => number } = {}) {
    this.#compile = compileWithTls(compile, {
      defaultCertificateSecret: options.defaultCertificateSecret,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#endpoints = new TestLiveState(yaml);
    this.#routing = { table: this.#endpoints.routing().table, generation: 0 };
    this.load(yaml);
  }

  get endpoints(): EndpointView {
    return this.#endpoints.endpoints;
  }

  routing(): RoutingState {
    return this.#routing;
  }

  load(yaml: string): void {
    this.#endpoints.load(yaml);
    const result = this.#compile(snapshotFromRecords(recordsFromYaml(yaml)), DEFAULT_COMPILE_OPTIONS);
    this.diagnostics = result.diagnostics;
    this.#routing = { table: result.table, generation: this.#routing.generation + 1 };
  }

  /** `object: Code` of the TLS step's diagnostics and compile's */
  codes(): string[] {
    return this.diagnostics.map((diagnostic) => `${diagnostic.object}: ${diagnostic.code}`);
  }
}

export interface RunningTlsProxy {
  readonly proxy: ProxyServer;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly logs: Record<string, unknown>[];
  accessLogs(): Record<string, unknown>[];
  close(): Promise<void>;
}

let fallbackCertificate: Promise<GeneratedCertificate> | undefined;

/** The certificate the proxy serves when nothing else applies (one per test process). */
export function testFallbackCertificate(): Promise<GeneratedCertificate> {
  fallbackCertificate ??= generateCertificate({ commonName: 'Portico Fallback (test)' });
  return fallbackCertificate;
}

export async function startTlsProxy(
  state: LiveState,
  options: Omit<Partial<ProxyServerOptions>, 'state' | 'logger' | 'metrics' | 'https'> & {
    readonly https?: Partial<NonNullable<ProxyServerOptions['https']>>;
  } = {},
): Promise<RunningTlsProxy> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const { https, ...rest } = options;
  const proxy = createProxyServer({
    state,
    logger,
    metrics: createMetrics(new Registry()),
    ...rest,
    https: {
      fallbackCertificate: await testFallbackCertificate(),
      strictTransportSecurity: 'max-age=31536000',
      ...https,
    },
  });
  const http = await proxy.listen(0, '127.0.0.1');
  const secure = await proxy.listenHttps(0, '127.0.0.1');
  return {
    proxy,
    httpPort: http.port,
    httpsPort: secure.port,
    logs,
    accessLogs: () => logs.filter((line) => line.msg === 'request'),
    close: () => proxy.close({ graceMs: 1_000 }),
  };
}

export interface Handshake {
  /** the served leaf's subject CN */
  readonly commonName: string;
  readonly fingerprint256: string;
  readonly alpnProtocol: string | false;
  readonly protocol: string | null;
  readonly cipher: string;
}

function commonNameOf(certificate: PeerCertificate): string {
  const cn = certificate.subject?.CN;
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

/** A bare TLS handshake (no HTTP), reporting what the server presented. */
export function handshake(
  port: number,
  servername: string | undefined,
  options: {
    readonly alpn?: readonly string[];
    readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    readonly ciphers?: string;
  } = {},
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      // Node sends no SNI for an IP literal; an empty servername means "send none" too.
      servername: servername ?? '',
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn ? [...options.alpn] : ['h2', 'http/1.1'],
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    });
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      const result: Handshake = {
        commonName: commonNameOf(certificate),
        fingerprint256: certificate.fingerprint256,
        alpnProtocol: socket.alpnProtocol ?? false,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

/** SHA-256 fingerprint as node:tls reports it (AA:BB:...). */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly alpnProtocol: string | false | undefined;
  readonly httpVersion: string;
}

/** One HTTP/1.1 request over TLS on a fresh connection (ALPN offers http/1.1 only). */
export function httpsGet(
  port: number,
  options: {
    readonly servername?: string;
    readonly host: string;
    readonly path?: string;
    readonly ca?: string;
    readonly headers?: Record<string, string>;
  },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const requestOptions: RequestOptions & { ALPNProtocols: string[] } = {
      host: '127.0.0.1',
      port,
      path: options.path ?? '/',
      servername: options.servername ?? options.host,
      headers: { host: options.host, ...options.headers },
      ALPNProtocols: ['http/1.1'],
      agent: false,
      ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
    };
    const req = httpsRequest(requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          alpnProtocol: (res.socket as { alpnProtocol?: string | false }).alpnProtocol,
          httpVersion: res.httpVersion,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface H2Response {
  readonly status: number;
  readonly headers: Http2Headers;
  readonly body: string;
}

/** An HTTP/2 connection (ALPN h2), resolved once the server's SETTINGS have arrived. */
export async function openH2Session(port: number, servername: string): Promise<ClientHttp2Session> {
  const session = http2Connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** One request on an open HTTP/2 connection, answered with the status only. */
export function h2Status(session: ClientHttp2Session, authority: string, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':authority': authority });
    stream.on('response', (headers) => resolve(Number(headers[':status'])));
    stream.on('error', reject);
    stream.resume();
    stream.end();
  });
}

/** Requests over one HTTP/2 connection (ALPN h2); `:authority` is `authority`. */
export async function h2Requests(
  port: number,
  servername: string,
  requests: readonly { readonly authority: string; readonly path: string; readonly headers?: Record<string, string> }[],
): Promise<H2Response[]> {
  const session = await openH2Session(port, servername);
  try {
    return await Promise.all(
      requests.map(
        (request) =>
          new Promise<H2Response>((resolve, reject) => {
            const stream = session.request({
              // CONNECT carries no :path (RFC 9113 section 8.5)
              ...(request.path === '' ? {} : { ':path': request.path }),
              ':authority': request.authority,
              ...request.headers,
            });
            let headers: Http2Headers = {};
            const chunks: Buffer[] = [];
            stream.on('response', (received) => {
              headers = received;
            });
            stream.on('data', (chunk: Buffer) => chunks.push(chunk));
            stream.on('end', () =>
              resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks).toString() }),
            );
            stream.on('error', reject);
            stream.end();
          }),
      ),
    );
  } finally {
    session.close();
  }
}

/**
 * Opens a WebSocket (`ws:` or `wss:`, the certificate not checked), sends `message` and returns
 * the first reply. `servername` is SNI; ws hands it on to tls.connect, its typings do not list it.
 */
export async function webSocketReply(url: string, host: string, message: string, servername?: string): Promise<string> {
  const options = { headers: { host }, rejectUnauthorized: false, ...(servername ? { servername } : {}) };
  const socket = new WebSocket(url, options);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const reply = new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString())));
  socket.send(message);
  try {
    return await reply;
  } finally {
    socket.close();
  }
}

/** The status of a WebSocket handshake that is refused (0: no HTTP response at all). */
export function webSocketRefusal(url: string, host: string): Promise<number> {
  const socket = new WebSocket(url, { headers: { host }, rejectUnauthorized: false });
  return new Promise<number>((resolve) => {
    socket.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
    socket.once('error', () => resolve(0));
  });
}
