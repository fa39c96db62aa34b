// Routing to real backends, header rules in both directions, request ids, status mapping.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

interface Echo {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

describe('forwarding', () => {
  let web: TestBackend;
  let web2: TestBackend;
  let web6: TestBackend;
  let running: RunningProxy;

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    web2 = await startBackend('web2', '127.0.0.3', (req, res) => {
      if (req.url === '/v2/hop') {
        res.writeHead(200, {
          connection: 'x-private, keep-alive',
          'x-private': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          trailer: 'x-checksum',
          'set-cookie': ['a=1', 'b=2'],
          'x-kept': 'yes',
        });
        res.end('hop');
        return;
      }
      const body = JSON.stringify({ name: 'web2', method: req.method, url: req.url, headers: req.headers });
      res.end(body);
    });
    web6 = await startBackend('web6', '::1');
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        serviceYaml('web2'),
        serviceYaml('web6'),
        sliceYaml('web6', [{ ip: '::1', port: web6.port }]),
        serviceYaml('nobody'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        sliceYaml('web2', [{ ip: web2.address, port: web2.port }]),
        sliceYaml('nobody', [{ ip: '127.0.0.9', port: 1, ready: false }]),
        ingressYaml('example', 'app.test', [
          { path: '/', service: 'web' },
          { path: '/v2', service: 'web2' },
          { path: '/empty', service: 'nobody' },
          { path: '/missing', service: 'does-not-exist' },
          { path: '/six', service: 'web6' },
        ]),
        ingressYaml(
          'rewrite',
          'rewrite.test',
          [{ path: '/api(/|$)(.*)', service: 'web', pathType: 'ImplementationSpecific' }],
          {
            'nginx.ingress.kubernetes.io/use-regex': 'true',
            'nginx.ingress.kubernetes.io/rewrite-target': '/$2',
            'nginx.ingress.kubernetes.io/x-forwarded-prefix': '/api',
            'nginx.ingress.kubernetes.io/upstream-vhost': 'internal.svc',
          },
        ),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await web.close();
    await web2.close();
    await web6.close();
  });

  test('an IPv6 endpoint (dual-stack slices)', async () => {
    const response = await send(running.port, { path: '/six' });
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(response.body) as Echo).name, 'web6');
    assert.ok(running.proxy.upstreamOrigins().includes(`http://[::1]:${web6.port}`));
  });

  test('routes by path to two backends', async () => {
    const root = await send(running.port, { path: '/hello?x=1' });
    assert.equal(root.status, 200);
    const echo = JSON.parse(root.body) as Echo;
    assert.equal(echo.name, 'web');
    assert.equal(echo.url, '/hello?x=1');
    const v2 = JSON.parse((await send(running.port, { path: '/v2/x' })).body) as Echo;
    assert.equal(v2.name, 'web2');
    assert.equal(v2.url, '/v2/x');
  });

  test('request headers: hop-by-hop stripped, Host kept, X-Forwarded-* set', async () => {
    const response = await send(running.port, {
      path: '/h',
      headers: {
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-connection': 'keep-alive',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-real-ip': '198.51.100.1',
        'x-custom': 'kept',
      },
    });
    const { headers } = JSON.parse(response.body) as Echo;
    for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) {
      assert.equal(headers[name], undefined, `${name} must not reach the backend`);
    }
    assert.equal(headers.host, 'app.test');
    assert.equal(headers['x-custom'], 'kept');
    assert.equal(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], 'app.test');
    assert.equal(headers['x-forwarded-port'], String(running.port));
    assert.equal(headers['x-real-ip'], '127.0.0.1');
    assert.match(String(headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('response headers: hop-by-hop and Connection-named fields stripped, duplicates kept', async () => {
    const response = await send(running.port, { path: '/v2/hop' });
    assert.equal(response.status, 200);
    assert.equal(response.body, 'hop');
    assert.equal(response.headers['x-private'], undefined);
    assert.equal(response.headers['proxy-authenticate'], undefined);
    assert.equal(response.headers.trailer, undefined);
    assert.notEqual(response.headers['keep-alive'], 'timeout=5');
    assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(response.headers['x-kept'], 'yes');
  });

  test('X-Request-ID is kept when sane and replaced when not', async () => {
    const kept = JSON.parse((await send(running.port, { headers: { 'x-request-id': 'abc-123.def' } })).body) as Echo;
    assert.equal(kept.headers['x-request-id'], 'abc-123.def');
    const replaced = JSON.parse(
      (await send(running.port, { headers: { 'x-request-id': 'bad id "quoted"' } })).body,
    ) as Echo;
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const log = running.accessLogs().find((line) => line.requestId === 'abc-123.def');
    assert.ok(log, 'the access log carries the kept id');
  });

  test('rewrite, X-Forwarded-Prefix and upstream-vhost from the route', async () => {
    const { headers, url } = JSON.parse(
      (await send(running.port, { host: 'rewrite.test', path: '/api/items?q=1' })).body,
    ) as Echo;
    assert.equal(url, '/items?q=1');
    assert.equal(headers['x-forwarded-prefix'], '/api');
    assert.equal(headers.host, 'internal.svc');
    assert.equal(headers['x-forwarded-host'], 'rewrite.test');
  });

  test('404 for an unknown host and 503 for no ready endpoint or a missing Service, with the request id', async () => {
    const notFound = await send(running.port, { host: 'nowhere.test', headers: { 'x-request-id': 'rid-404' } });
    assert.equal(notFound.status, 404);
    assert.match(String(notFound.headers['content-type']), /^text\/plain/);
    assert.match(notFound.body, /PORTICO_ERR_NO_ROUTE/);
    assert.match(notFound.body, /rid-404/);
    const empty = await send(running.port, { path: '/empty', headers: { 'x-request-id': 'rid-503' } });
    assert.equal(empty.status, 503);
    assert.match(empty.body, /PORTICO_ERR_NO_ENDPOINTS/);
    assert.match(empty.body, /rid-503/);
    const missing = await send(running.port, { path: '/missing' });
    assert.equal(missing.status, 503);
    assert.match(missing.body, /PORTICO_ERR_BACKEND_UNAVAILABLE/);
    assert.match(missing.body, /request-id: [0-9a-f-]{36}/);
  });

  test('every method reaches the backend, bodies included', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'MKCOL']) {
      const response = await send(running.port, {
        method,
        path: '/m',
        body: 'payload',
        headers: { 'content-type': 'weird/;;;' },
      });
      assert.equal(response.status, 200, method);
      assert.equal((JSON.parse(response.body) as Echo).method, method);
    }
    const head = await send(running.port, { method: 'HEAD', path: '/m' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('one access-log line per request with the documented fields, and request metrics', async () => {
    await send(running.port, { path: '/v2/logged', headers: { 'x-request-id': 'rid-log' } });
    await new Promise((resolve) => setImmediate(resolve));
    const lines = running.accessLogs().filter((line) => line.requestId === 'rid-log');
    assert.equal(lines.length, 1);
    const line = lines[0] as Record<string, unknown>;
    assert.equal(line.method, 'GET');
    assert.equal(line.host, 'app.test');
    assert.equal(line.path, '/v2/logged');
    assert.equal(line.status, 200);
    assert.equal(line.clientIp, '127.0.0.1');
    assert.equal(line.upstreamAddress, `${web2.address}:${web2.port}`);
    assert.equal(line.upstreamStatus, 200);
    assert.equal(line.ingress, 'default/example');
    assert.equal(line.service, 'default/web2:80');
    assert.equal(typeof line.time, 'number');
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.upstreamDurationMs, 'number');
    assert.equal(typeof line.bytesOut, 'number');
    assert.equal(line.bytesIn, 0);
    const metrics = await running.metrics.registry.getSingleMetricAsString('portico_requests_total');
    assert.match(
      metrics,
      /portico_requests_total\{ingress="example",namespace="default",service="web2",status_class="2xx"\} \d+/,
    );
  });
});
