// backend-protocol GRPC and GRPCS with real node:http2 backends that answer the way gRPC servers
// do: response headers, a length-prefixed message, then `grpc-status` in trailers. Portico must
// speak HTTP/2 to them (cleartext with prior knowledge, or TLS with ALPN h2), pass `TE: trailers`
// on, and relay the trailers to the client: as HTTP/2 trailers, or on a chunked HTTP/1.1 answer.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { INGRESS_CLASS_YAML, ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import {
  generateCertificate,
  openH2Session,
  type RunningTlsProxy,
  startTlsProxy,
  TlsTestState,
} from './tls-harness.ts';

interface SeenCall {
  readonly backend: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly alpn: string | false | undefined;
}

/** One gRPC message: compressed flag, 4-byte length, payload (grpc/PROTOCOL-HTTP2.md). */
function grpcMessage(payload: string): Buffer {
  const body = Buffer.from(payload);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

interface GrpcResponse {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: IncomingHttpHeaders;
}

describe('gRPC backends (backend-protocol GRPC and GRPCS)', () => {
  const seen: SeenCall[] = [];
  let h2c: Http2Server;
  let h2s: Http2SecureServer;
  let running: RunningTlsProxy;

  /** Answers like a gRPC server: 200, one message echoing the request's, then grpc-status trailers. */
  function answer(backend: string, status: string) {
    return (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const socket = stream.session?.socket as Partial<TLSSocket> | undefined;
        const body = Buffer.concat(chunks);
        seen.push({ backend, headers, body, alpn: socket?.alpnProtocol ?? undefined });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () =>
          stream.sendTrailers({ 'grpc-status': status, 'grpc-message': `from ${backend}` }),
        );
        stream.end(grpcMessage(`${backend} got ${body.subarray(5).toString()}`));
      });
    };
  }

  before(async () => {
    h2c = createH2cServer();
    h2c.on('stream', answer('h2c', '0'));
    await new Promise<void>((resolve) => h2c.listen(0, '127.0.0.4', resolve));
    const certificate = await generateCertificate({ commonName: 'grpc.internal', dnsNames: ['grpc.internal'] });
    h2s = createSecureServer({ cert: certificate.certPem, key: certificate.keyPem, allowHTTP1: false });
    h2s.on('stream', answer('h2s', '5'));
    await new Promise<void>((resolve) => h2s.listen(0, '127.0.0.5', resolve));
    const h2cPort = (h2c.address() as AddressInfo).port;
    const h2sPort = (h2s.address() as AddressInfo).port;
    const state = new TlsTestState(
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('greeter'),
        sliceYaml('greeter', [{ ip: '127.0.0.4', port: h2cPort }]),
        serviceYaml('secure-greeter'),
        sliceYaml('secure-greeter', [{ ip: '127.0.0.5', port: h2sPort }]),
        ingressYaml('grpc', 'grpc.test', [{ path: '/', service: 'greeter' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC',
        }),
        ingressYaml('grpcs', 'grpcs.test', [{ path: '/', service: 'secure-greeter' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'GRPCS',
        }),
      ),
    );
    assert.deepEqual(state.codes(), []);
    running = await startTlsProxy(state);
  });

  after(async () => {
    await running.close();
    await new Promise<void>((resolve) => h2c.close(() => resolve()));
    await new Promise<void>((resolve) => h2s.close(() => resolve()));
  });

  /** A unary gRPC call over HTTP/2 through the HTTPS front. */
  async function callOverH2(authority: string, payload: string): Promise<GrpcResponse> {
    const session = await openH2Session(running.httpsPort, authority);
    try {
      return await new Promise<GrpcResponse>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/helloworld.Greeter/SayHello',
          ':authority': authority,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        let headers: IncomingHttpHeaders = {};
        let trailers: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on('response', (received) => (headers = received));
        stream.on('trailers', (received) => (trailers = received));
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
        stream.on('error', reject);
        stream.end(grpcMessage(payload));
      });
    } finally {
      session.close();
    }
  }

  test('GRPC: HTTP/2 cleartext to the backend, TE passed on, grpc-status trailers relayed to an HTTP/2 client', async () => {
    const response = await callOverH2('grpc.test', 'hello');
    assert.equal(response.headers[':status'], 200);
    assert.equal(response.headers['content-type'], 'application/grpc');
    assert.deepEqual(response.body, grpcMessage('h2c got hello'));
    assert.equal(response.trailers['grpc-status'], '0');
    assert.equal(response.trailers['grpc-message'], 'from h2c');
    const call = seen.at(-1);
    assert.equal(call?.backend, 'h2c');
    assert.equal(call?.headers[':method'], 'POST');
    assert.equal(call?.headers[':path'], '/helloworld.Greeter/SayHello');
    assert.equal(call?.headers.te, 'trailers');
    assert.deepEqual(call?.body, grpcMessage('hello'));
  });

  test('GRPCS: HTTP/2 over TLS (ALPN h2) to the backend, trailers relayed', async () => {
    const response = await callOverH2('grpcs.test', 'secret');
    assert.equal(response.headers[':status'], 200);
    assert.deepEqual(response.body, grpcMessage('h2s got secret'));
    assert.equal(response.trailers['grpc-status'], '5');
    assert.equal(response.trailers['grpc-message'], 'from h2s');
    assert.equal(seen.at(-1)?.backend, 'h2s');
    assert.equal(seen.at(-1)?.alpn, 'h2');
    assert.ok(running.proxy.upstreamOrigins().some((origin) => origin.startsWith('h2s://127.0.0.5:')));
  });

  test('an HTTP/1.1 client gets the trailers on the chunked answer', async () => {
    const response = await new Promise<{ status: number; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: running.httpPort,
          method: 'POST',
          path: '/helloworld.Greeter/SayHello',
          headers: { host: 'grpc.test', 'content-type': 'application/grpc', te: 'trailers' },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, trailers: res.trailers }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(grpcMessage('plain'));
    });
    assert.equal(response.status, 200);
    assert.equal(response.trailers['grpc-status'], '0');
  });
});
