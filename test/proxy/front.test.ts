// The listener itself: Node's strict parser limits, odd request targets handed to the router
// as received, CONNECT, non-WebSocket upgrades, redirects.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, sendRaw, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

describe('front', () => {
  let web: TestBackend;
  let running: RunningProxy;

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        ingressYaml('example', 'app.test', [{ path: '/', service: 'web' }]),
        ingressYaml('rooted', 'rooted.test', [{ path: '/', service: 'web' }], {
          'nginx.ingress.kubernetes.io/app-root': '/app',
        }),
      ),
    );
    running = await startProxy(state, { limits: { maxHeaderBytes: 8 * 1024 } });
  });

  after(async () => {
    await running.close();
    await web.close();
  });

  test('a header section over the limit gets 431 with a request id', async () => {
    const big = 'x'.repeat(10 * 1024);
    const response = await sendRaw(running.port, `GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ${big}\r\n\r\n`);
    assert.match(response, /^HTTP\/1\.1 431 /);
    assert.match(response, /content-type: text\/plain/i);
    assert.match(response, /PORTICO_ERR_HEADERS_TOO_LARGE/);
    assert.match(response, /request-id: [0-9a-f-]{36}/);
    assert.equal(web.seen.length, 0);
  });

  test('malformed requests get 400 from the strict parser', async () => {
    const badHeader = await sendRaw(running.port, 'GET / HTTP/1.1\r\nHost: app.test\r\nBad Header\r\n\r\n');
    assert.match(badHeader, /^HTTP\/1\.1 400 /);
    assert.match(badHeader, /PORTICO_ERR_BAD_REQUEST/);
    assert.match(badHeader, /request-id: /);
    const garbage = await sendRaw(running.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    // Both Content-Length and Transfer-Encoding: request smuggling material, refused in strict mode.
    const smuggle = await sendRaw(
      running.port,
      'POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    assert.match(smuggle, /^HTTP\/1\.1 400 /);
    const noHost = await sendRaw(running.port, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(noHost, /^HTTP\/1\.1 400 /);
    assert.equal(web.seen.length, 0);
    const logged = running
      .accessLogs()
      .filter((line) => line.status === 400 && line.error === 'PORTICO_ERR_BAD_REQUEST');
    assert.ok(logged.length >= 4);
  });

  test('odd encodings reach the router as received', async () => {
    const malformed = await sendRaw(running.port, 'GET /%zz HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.match(malformed, /^HTTP\/1\.1 400 /);
    assert.match(malformed, /PORTICO_ERR_BAD_REQUEST/, 'answered by resolveRequest, not by Fastify');
    const encoded = JSON.parse((await send(running.port, { path: '/a%2Fb/caf%C3%A9/%7Euser?q=%zz' })).body) as {
      url: string;
    };
    assert.equal(encoded.url, '/a%2Fb/caf%C3%A9/~user?q=%zz');
    const dotted = JSON.parse((await send(running.port, { path: '/a/./b/../c//d' })).body) as { url: string };
    assert.equal(dotted.url, '/a/c/d');
  });

  test('CONNECT is refused with 405', async () => {
    const response = await sendRaw(running.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 405 /);
    assert.match(response, /PORTICO_ERR_METHOD_NOT_ALLOWED/);
  });

  test('a non-WebSocket Upgrade is a plain request with Upgrade stripped', async () => {
    const response = await send(running.port, {
      path: '/h2c',
      headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' },
    });
    assert.equal(response.status, 200);
    const { headers } = JSON.parse(response.body) as { headers: Record<string, string | undefined> };
    assert.equal(headers.upgrade, undefined);
    assert.equal(headers['http2-settings'], undefined);
  });

  test('redirect decisions are answered by the proxy', async () => {
    const response = await send(running.port, { host: 'rooted.test', path: '/' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, 'http://rooted.test/app');
  });

  test('keep-alive: several requests on one client connection', async () => {
    const request = 'GET /k HTTP/1.1\r\nHost: app.test\r\n\r\n';
    const response = await sendRaw(
      running.port,
      `${request}${request}GET /k HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(response.match(/HTTP\/1\.1 200 /g)?.length, 3);
  });
});
