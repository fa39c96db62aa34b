// The HTTPS listener end to end with real sockets: HTTP → HTTPS redirects (ssl-redirect,
// force-ssl-redirect), Strict-Transport-Security on HTTPS responses only, X-Forwarded-Proto,
// HTTP/2 requests forwarded to HTTP/1.1 backends, HTTP/2 limits, and WebSockets over TLS.

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { INGRESS_CLASS_YAML, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { send } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import {
  generateCertificate,
  h2Requests,
  h2Status,
  openH2Session,
  httpsGet,
  type RunningTlsProxy,
  startTlsProxy,
  tlsIngressYaml,
  tlsSecretYaml,
  TlsTestState,
  webSocketReply,
} from './tls-harness.ts';

describe('HTTPS listener', () => {
  let web: TestBackend;
  let sockets: Server;
  let wss: WebSocketServer;
  let running: RunningTlsProxy;
  const handshakes: IncomingHttpHeaders[] = [];

  before(async () => {
    web = await startBackend('web', '127.0.0.2', (req, res) => {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({ name: 'web', method: req.method, url: req.url, headers: req.headers });
        const headers: Record<string, string | string[]> = {
          'content-type': 'application/json',
          'set-cookie': ['a=1', 'b=2'],
        };
        if (req.url === '/own-hsts') headers['strict-transport-security'] = 'max-age=60';
        res.writeHead(200, headers);
        res.end(body);
      });
    });
    sockets = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server: sockets });
    wss.on('connection', (socket, req) => {
      handshakes.push(req.headers);
      socket.on('message', (data: Buffer) => socket.send(`echo:${data.toString()}`));
    });
    await new Promise<void>((resolve) => sockets.listen(0, '127.0.0.3', resolve));
    const socketsPort = (sockets.address() as AddressInfo).port;
    const secure = await generateCertificate({
      commonName: 'secure.test',
      dnsNames: ['secure.test', 'norewrite.test'],
    });
    const state = new TlsTestState(
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        serviceYaml('ws'),
        sliceYaml('ws', [{ ip: '127.0.0.3', port: socketsPort }]),
        tlsSecretYaml('secure-tls', secure),
        tlsIngressYaml('secure', {
          hosts: ['secure.test'],
          tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }],
        }),
        tlsIngressYaml('no-redirect', {
          hosts: ['norewrite.test'],
          tls: [{ hosts: ['norewrite.test'], secretName: 'secure-tls' }],
          annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' },
        }),
        tlsIngressYaml('forced', {
          hosts: ['forced.test'],
          annotations: { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' },
        }),
        tlsIngressYaml('plain', { hosts: ['plain.test'] }),
        tlsIngressYaml('sockets', { hosts: ['ws.test'], service: 'ws', tls: [{ hosts: ['ws.test'] }] }),
      ),
    );
    running = await startTlsProxy(state);
  });

  after(async () => {
    await running.close();
    for (const client of wss.clients) client.terminate();
    wss.close();
    sockets.closeAllConnections();
    await new Promise<void>((resolve) => sockets.close(() => resolve()));
    await web.close();
  });

  test('plain HTTP to a TLS host: 308 to https with the same host, path and query', async () => {
    const response = await send(running.httpPort, { host: 'secure.test:8080', path: '/a/b?x=1&y=%20' });
    assert.equal(response.status, 308);
    assert.equal(response.headers.location, 'https://secure.test/a/b?x=1&y=%20');
    assert.equal(response.headers['strict-transport-security'], undefined, 'HSTS is never sent over plain HTTP');
  });

  test('ssl-redirect "false" keeps HTTP; force-ssl-redirect redirects a host without TLS', async () => {
    assert.equal((await send(running.httpPort, { host: 'norewrite.test' })).status, 200);
    const forced = await send(running.httpPort, { host: 'forced.test', path: '/p?q' });
    assert.equal(forced.status, 308);
    assert.equal(forced.headers.location, 'https://forced.test/p?q');
    assert.equal((await send(running.httpPort, { host: 'plain.test' })).status, 200);
  });

  test('the redirect target answers over HTTPS: 200, HSTS, X-Forwarded-Proto https', async () => {
    const response = await httpsGet(running.httpsPort, { host: 'secure.test', path: '/a/b?x=1' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000');
    assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
    const seen = JSON.parse(response.body) as { url: string; headers: IncomingHttpHeaders };
    assert.equal(seen.url, '/a/b?x=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(running.httpsPort));
    assert.equal(seen.headers.host, 'secure.test');
  });

  test("HSTS replaces the upstream's own and is on Portico's own HTTPS answers too", async () => {
    const own = await httpsGet(running.httpsPort, { host: 'secure.test', path: '/own-hsts' });
    assert.equal(own.headers['strict-transport-security'], 'max-age=31536000');
    const missing = await httpsGet(running.httpsPort, { host: 'unknown.test' });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['strict-transport-security'], 'max-age=31536000');
    // A host without spec.tls is still served over HTTPS (with the default certificate).
    assert.equal((await httpsGet(running.httpsPort, { host: 'plain.test' })).status, 200);
  });

  test('HSTS off: no header', async () => {
    const quiet = await startTlsProxy(
      new TlsTestState(
        manifests(
          INGRESS_CLASS_YAML,
          serviceYaml('web'),
          sliceYaml('web', [{ ip: web.address, port: web.port }]),
          tlsIngressYaml('plain', { hosts: ['plain.test'] }),
        ),
      ),
      { https: { strictTransportSecurity: undefined } },
    );
    try {
      const response = await httpsGet(quiet.httpsPort, { host: 'plain.test' });
      assert.equal(response.status, 200);
      assert.equal(response.headers['strict-transport-security'], undefined);
    } finally {
      await quiet.close();
    }
  });

  test('HTTP/2: :authority routes, the backend gets Host and no pseudo-headers, responses keep their fields', async () => {
    const [ok, missing, posted] = await h2Requests(running.httpsPort, 'secure.test', [
      { authority: 'secure.test', path: '/h2?x=1', headers: { 'x-extra': 'yes' } },
      { authority: 'unknown.test', path: '/' },
      { authority: 'secure.test', path: '/post', headers: { ':method': 'POST', 'content-type': 'text/plain' } },
    ]);
    assert.equal(ok?.status, 200);
    assert.equal(ok?.headers['strict-transport-security'], 'max-age=31536000');
    assert.deepEqual(ok?.headers['set-cookie'], ['a=1', 'b=2']);
    const seen = JSON.parse(ok?.body ?? '{}') as { url: string; headers: IncomingHttpHeaders };
    assert.equal(seen.url, '/h2?x=1');
    assert.equal(seen.headers.host, 'secure.test');
    assert.equal(seen.headers['x-forwarded-host'], 'secure.test');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-extra'], 'yes');
    assert.deepEqual(
      Object.keys(seen.headers).filter((name) => name.startsWith(':')),
      [],
    );
    assert.equal(missing?.status, 404);
    assert.match(missing?.body ?? '', /PORTICO_ERR_NO_ROUTE/);
    assert.equal(posted?.status, 200);
    assert.equal(JSON.parse(posted?.body ?? '{}').method, 'POST');
    const line = running.accessLogs().find((entry) => entry.path === '/h2?x=1');
    assert.equal(line?.host, 'secure.test');
    assert.equal(line?.status, 200);
  });

  test('HTTP/2 limits: the server announces its stream cap; an oversized header list is refused, the connection lives on', async () => {
    const session = await openH2Session(running.httpsPort, 'secure.test');
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
      assert.equal(session.remoteSettings.enablePush, false);
      const refused = await new Promise<string>((resolve) => {
        const stream = session.request({ ':path': '/', ':authority': 'secure.test', 'x-big': 'a'.repeat(20_000) });
        stream.on('response', (headers) => resolve(String(headers[':status'])));
        stream.on('error', (error: Error & { code?: string }) => resolve(error.code ?? 'error'));
        stream.on('close', () => resolve(`closed ${stream.rstCode}`));
        stream.end();
      });
      assert.notEqual(refused, '200');
      const status = await h2Status(session, 'secure.test');
      assert.equal(status, 200);
    } finally {
      session.close();
    }
  });

  test('HTTP/1.1 over TLS keeps the 16 KiB header limit (431); HTTP/2 CONNECT is refused with 405', async () => {
    const big = await httpsGet(running.httpsPort, { host: 'secure.test', headers: { 'x-big': 'a'.repeat(20_000) } });
    assert.equal(big.status, 431);
    // Same whole-request policy as the HTTP listener: no cap (Node's own default would be 300 s).
    // (Node sets the HTTP/1 options on an HTTP/2 server that allows HTTP/1.1; its typings omit them.)
    const https = running.proxy.https?.server as unknown as { requestTimeout?: number } | undefined;
    assert.equal(https?.requestTimeout, running.proxy.server.requestTimeout);
    const [connect] = await h2Requests(running.httpsPort, 'secure.test', [
      { authority: 'secure.test:443', path: '', headers: { ':method': 'CONNECT' } },
    ]);
    assert.equal(connect?.status, 405);
  });

  test('WebSockets keep working over TLS (HTTP/1.1 on the same port)', async () => {
    const reply = await webSocketReply(`wss://127.0.0.1:${running.httpsPort}/chat`, 'ws.test', 'over tls', 'ws.test');
    assert.equal(reply, 'echo:over tls');
    assert.equal(handshakes.at(-1)?.['x-forwarded-proto'], 'https');
    assert.equal(handshakes.at(-1)?.host, 'ws.test');
  });
});
