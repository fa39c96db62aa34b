// How Portico talks to backends, with real servers: HTTP/2 cleartext (Service port appProtocol
// kubernetes.io/h2c), HTTPS by `backend-protocol: HTTPS` or appProtocol `https`, certificate
// verification off by default and on with `proxy-ssl-verify`, `proxy-ssl-name` and a CA from
// `proxy-ssl-secret`; `backend-protocol: AUTO_HTTP` following the client's scheme; bad annotation
// values are diagnostics.

import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { TLSSocket } from 'node:tls';
import { compile } from '../../src/compile/compile.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { INGRESS_CLASS_YAML, ingressYaml, manifests, sliceYaml } from '../support/cluster-manifests.ts';
import { send } from '../support/proxy-harness.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';
import {
  generateCertificate,
  h2Requests,
  httpsGet,
  type RunningTlsProxy,
  startTlsProxy,
  tlsSecretYaml,
  TlsTestState,
  webSocketRefusal,
  webSocketReply,
} from './tls-harness.ts';

interface Seen {
  readonly httpVersion: string;
  readonly encrypted: boolean;
  readonly servername: string | false | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function serviceWithAppProtocol(name: string, appProtocol: string | undefined): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports: [{ name: http, port: 80, targetPort: http, protocol: TCP${appProtocol ? `, appProtocol: ${JSON.stringify(appProtocol)}` : ''} }]
`;
}

describe('backend protocols', () => {
  let h2c: Http2Server;
  let tlsBackend: HttpsServer;
  let plainBackend: HttpServer;
  let h2cPort: number;
  let tlsPort: number;
  let plainPort: number;
  const seen: Seen[] = [];
  let running: RunningTlsProxy;
  let state: TlsTestState;

  function record(
    req: {
      httpVersion: string;
      headers: IncomingHttpHeaders;
      socket: unknown;
      on(event: 'data', listener: (chunk: Buffer) => void): unknown;
      on(event: 'end', listener: () => void): unknown;
    },
    answer: (body: string) => void,
  ): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const socket = req.socket as Partial<TLSSocket>;
      const body = Buffer.concat(chunks).toString();
      seen.push({
        httpVersion: req.httpVersion,
        encrypted: socket.encrypted === true,
        servername: socket.servername ?? undefined,
        headers: req.headers,
        body,
      });
      answer(body);
    });
  }

  before(async () => {
    h2c = createH2cServer((req, res) =>
      record(req, (body) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
        res.end(`h2c ${req.httpVersion} ${req.method} ${req.url} ${body}`);
      }),
    );
    await new Promise<void>((resolve) => h2c.listen(0, '127.0.0.4', resolve));
    h2cPort = (h2c.address() as AddressInfo).port;

    const ca = await generateCertificate({ commonName: 'Backend CA', isCa: true });
    const backendCertificate = await generateCertificate({
      commonName: 'backend.internal',
      dnsNames: ['backend.internal'],
      issuer: ca,
    });
    tlsBackend = createHttpsServer({ cert: backendCertificate.certPem, key: backendCertificate.keyPem }, (req, res) =>
      record(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`tls ${req.url}`);
      }),
    );
    // The same HTTPS backend also takes WebSocket upgrades, over TLS.
    new WebSocketServer({ server: tlsBackend }).on('connection', (socket, req) => {
      const encrypted = (req.socket as Partial<TLSSocket>).encrypted === true;
      socket.on('message', (data: Buffer) => socket.send(`${encrypted ? 'tls' : 'plain'}:${data.toString()}`));
    });
    await new Promise<void>((resolve) => tlsBackend.listen(0, '127.0.0.5', resolve));
    tlsPort = (tlsBackend.address() as AddressInfo).port;
    // A plain HTTP/1.1 backend, for AUTO_HTTP (a TLS handshake towards it fails).
    plainBackend = createHttpServer((req, res) =>
      record(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`plain ${req.url}`);
      }),
    );
    await new Promise<void>((resolve) => plainBackend.listen(0, '127.0.0.6', resolve));
    plainPort = (plainBackend.address() as AddressInfo).port;
    // A client certificate for proxy-ssl-secret, plus the CA that signed the backend's.
    const client = await generateCertificate({ commonName: 'portico client' });

    state = new TlsTestState(
      manifests(
        INGRESS_CLASS_YAML,
        serviceWithAppProtocol('grpcish', 'kubernetes.io/h2c'),
        sliceYaml('grpcish', [{ ip: '127.0.0.4', port: h2cPort }]),
        serviceWithAppProtocol('secure', 'https'),
        sliceYaml('secure', [{ ip: '127.0.0.5', port: tlsPort }]),
        serviceWithAppProtocol('plainport', undefined),
        sliceYaml('plainport', [{ ip: '127.0.0.5', port: tlsPort }]),
        serviceWithAppProtocol('cleartext', undefined),
        sliceYaml('cleartext', [{ ip: '127.0.0.6', port: plainPort }]),
        `${tlsSecretYaml('backend-ca', client).trimEnd()}\n  ca.crt: ${JSON.stringify(ca.certPem)}\n`,
        ingressYaml('h2c', 'h2c.test', [{ path: '/', service: 'grpcish' }]),
        ingressYaml('by-app-protocol', 'app.test', [{ path: '/', service: 'secure' }]),
        ingressYaml('by-annotation', 'annotated.test', [{ path: '/', service: 'plainport' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
        }),
        // AUTO_HTTP: the annotation wins over appProtocol, whatever it says.
        ingressYaml('auto-tls', 'auto-tls.test', [{ path: '/', service: 'secure' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'AUTO_HTTP',
        }),
        ingressYaml('auto-plain', 'auto-plain.test', [{ path: '/', service: 'cleartext' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'auto_http',
        }),
        ingressYaml('verify-untrusted', 'untrusted.test', [{ path: '/', service: 'secure' }], {
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
        }),
        ingressYaml('verify-trusted', 'trusted.test', [{ path: '/', service: 'secure' }], {
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
          'nginx.ingress.kubernetes.io/proxy-ssl-name': 'backend.internal',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'default/backend-ca',
        }),
        ingressYaml('verify-wrong-name', 'wrongname.test', [{ path: '/', service: 'secure' }], {
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
          'nginx.ingress.kubernetes.io/proxy-ssl-name': 'other.internal',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'default/backend-ca',
        }),
      ),
    );
    assert.deepEqual(state.codes(), []);
    running = await startTlsProxy(state);
  });

  after(async () => {
    await running.close();
    await new Promise<void>((resolve) => h2c.close(() => resolve()));
    tlsBackend.closeAllConnections();
    await new Promise<void>((resolve) => tlsBackend.close(() => resolve()));
    plainBackend.closeAllConnections();
    await new Promise<void>((resolve) => plainBackend.close(() => resolve()));
  });

  test('appProtocol kubernetes.io/h2c: HTTP/2 with prior knowledge, headers and bodies both ways', async () => {
    const response = await send(running.httpPort, {
      host: 'h2c.test',
      method: 'POST',
      path: '/hello?x=1',
      body: 'ping',
      headers: { 'x-extra': 'yes' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.body, 'h2c 2.0 POST /hello?x=1 ping');
    assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
    const request = seen.at(-1);
    assert.equal(request?.httpVersion, '2.0');
    assert.equal(request?.headers[':authority'], 'h2c.test');
    assert.equal(request?.headers['x-extra'], 'yes');
    assert.equal(request?.headers['x-forwarded-proto'], 'http');
    assert.ok(running.proxy.upstreamOrigins().includes(`h2c://127.0.0.4:${h2cPort}`));
  });

  test('h2 client to h2c backend: HTTP/2 end to end', async () => {
    const [response] = await h2Requests(running.httpsPort, 'h2c.test', [{ authority: 'h2c.test', path: '/both' }]);
    assert.equal(response?.status, 200);
    assert.equal(response?.body, 'h2c 2.0 GET /both ');
    assert.equal(seen.at(-1)?.headers['x-forwarded-proto'], 'https');
  });

  test('HTTPS backends, by appProtocol https or backend-protocol HTTPS; not verified by default', async () => {
    const byAppProtocol = await send(running.httpPort, { host: 'app.test', path: '/a' });
    assert.equal(byAppProtocol.status, 200);
    assert.equal(byAppProtocol.body, 'tls /a');
    assert.equal(seen.at(-1)?.encrypted, true);
    assert.equal(seen.at(-1)?.httpVersion, '1.1');
    const byAnnotation = await send(running.httpPort, { host: 'annotated.test', path: '/b' });
    assert.equal(byAnnotation.status, 200);
    assert.equal(byAnnotation.body, 'tls /b');
    assert.equal(seen.at(-1)?.headers.host, 'annotated.test');
    assert.ok(running.proxy.upstreamOrigins().includes(`https://127.0.0.5:${tlsPort}`));
  });

  test('a WebSocket to an HTTPS backend is relayed over TLS, verification settings included', async () => {
    for (const host of ['app.test', 'trusted.test']) {
      assert.equal(await webSocketReply(`ws://127.0.0.1:${running.httpPort}/chat`, host, 'hi'), 'tls:hi', host);
    }
    assert.equal(await webSocketRefusal(`ws://127.0.0.1:${running.httpPort}/chat`, 'untrusted.test'), 502);
  });

  test('AUTO_HTTP follows the client: TLS to the backend from the HTTPS listener, HTTP/1.1 from the plain one', async () => {
    const cases = [
      { listener: 'https', host: 'auto-tls.test', status: 200, body: 'tls /auto', encrypted: true },
      // plain HTTP to the TLS backend, and a TLS handshake towards the plain one, both fail
      { listener: 'http', host: 'auto-tls.test', status: 502 },
      { listener: 'http', host: 'auto-plain.test', status: 200, body: 'plain /auto', encrypted: false },
      { listener: 'https', host: 'auto-plain.test', status: 502 },
    ] as const;
    for (const expected of cases) {
      const label = `${expected.listener} ${expected.host}`;
      const before = seen.length;
      const request = { host: expected.host, path: '/auto' };
      const response =
        expected.listener === 'https'
          ? await httpsGet(running.httpsPort, request)
          : await send(running.httpPort, request);
      assert.equal(response.status, expected.status, label);
      if (!('body' in expected)) {
        assert.equal(seen.length, before, `${label}: no request reached the backend`);
        continue;
      }
      assert.equal(response.body, expected.body, label);
      assert.equal(seen.at(-1)?.encrypted, expected.encrypted, label);
      assert.equal(seen.at(-1)?.httpVersion, '1.1', label);
      assert.equal(seen.at(-1)?.headers['x-forwarded-proto'], expected.listener, label);
    }
    const origins = running.proxy.upstreamOrigins();
    for (const origin of [`http://127.0.0.6:${plainPort}`, `https://127.0.0.6:${plainPort}`]) {
      assert.ok(origins.includes(origin), `${origin} in ${origins.join(' ')}`);
    }
  });

  test('AUTO_HTTP WebSockets: over TLS from the HTTPS listener, refused by the TLS backend from the plain one', async () => {
    assert.equal(await webSocketReply(`wss://127.0.0.1:${running.httpsPort}/chat`, 'auto-tls.test', 'hi'), 'tls:hi');
    assert.equal(await webSocketRefusal(`ws://127.0.0.1:${running.httpPort}/chat`, 'auto-tls.test'), 502);
  });

  test('proxy-ssl-verify on: an untrusted certificate is a 502, a trusted one with the right name is served', async () => {
    const untrusted = await send(running.httpPort, { host: 'untrusted.test' });
    assert.equal(untrusted.status, 502);
    const wrongName = await send(running.httpPort, { host: 'wrongname.test' });
    assert.equal(wrongName.status, 502);
    const trusted = await send(running.httpPort, { host: 'trusted.test', path: '/ok' });
    assert.equal(trusted.status, 200, JSON.stringify(running.accessLogs().slice(-1)));
    assert.equal(trusted.body, 'tls /ok');
    assert.equal(seen.at(-1)?.servername, 'backend.internal', 'proxy-ssl-name is sent as SNI');
    // Each TLS profile has its own pool: verified and unverified connections never mix.
    const httpsPools = running.proxy.upstreamOrigins().filter((origin) => origin.startsWith('https://'));
    assert.ok(httpsPools.length >= 3, httpsPools.join(' '));
  });

  test('bad values are InvalidAnnotation diagnostics; a missing proxy-ssl-secret is named', () => {
    const records = recordsFromYaml(
      manifests(
        INGRESS_CLASS_YAML,
        serviceWithAppProtocol('web', undefined),
        ingressYaml('bad', 'bad.test', [{ path: '/', service: 'web' }], {
          'nginx.ingress.kubernetes.io/backend-protocol': 'FCGI',
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'yes',
          'nginx.ingress.kubernetes.io/proxy-ssl-name': 'not a name',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'no-namespace',
        }),
        ingressYaml('missing', 'missing.test', [{ path: '/', service: 'web' }], {
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'default/nowhere',
        }),
      ),
    );
    const { diagnostics } = compile(snapshotFromRecords(records));
    const reasons = diagnostics
      .map((diagnostic) => `${diagnostic.object} ${diagnostic.code}: ${diagnostic.reason}`)
      .sort();
    assert.equal(reasons.length, 5, reasons.join('\n'));
    for (const expected of [
      /Ingress default\/bad InvalidAnnotation: .*backend-protocol "FCGI" is not supported \(.*no FastCGI\)/,
      /Ingress default\/bad InvalidAnnotation: .*proxy-ssl-verify must be "on" or "off", got "yes"/,
      /Ingress default\/bad InvalidAnnotation: .*proxy-ssl-name must be a DNS name/,
      /Ingress default\/bad InvalidAnnotation: .*proxy-ssl-secret must be namespace\/name/,
      /Ingress default\/missing InvalidProxySslSecret: proxy-ssl-secret default\/nowhere does not exist/,
    ]) {
      assert.ok(
        reasons.some((reason) => expected.test(reason)),
        `${expected} in\n${reasons.join('\n')}`,
      );
    }
  });
});
