// Response annotations through the real proxy and real backends: CORS (preflight answered by
// Portico, fields on allowed origins only), custom-http-errors with a default-backend (and
// without one), default-backend for a Service without endpoints, and the local limits
// (limit-rps per client address, limit-connections in flight), client addresses set with
// localAddress (127.0.0.x).

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy, type TestResponse } from '../support/proxy-harness.ts';
import { echoHandler, startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const HOST = 'responses.test';

/** Responses held by the app backend until a test lets them go. */
const held: ServerResponse[] = [];

function releaseHeld(): void {
  for (const res of held.splice(0)) res.end('released');
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !check(); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), 'condition not reached');
}

function responsesManifests(app: TestBackend, errors: TestBackend): string {
  return manifests(
    serviceYaml('app'),
    sliceYaml('app', [{ ip: app.address, port: app.port }]),
    serviceYaml('errors'),
    sliceYaml('errors', [{ ip: errors.address, port: errors.port }]),
    serviceYaml('empty'),
    sliceYaml('empty', [{ ip: '127.0.0.9', port: 9, ready: false }]),
    ingressYaml('cors', HOST, [{ path: '/cors', service: 'app' }], {
      [`${NGINX}enable-cors`]: 'true',
      [`${NGINX}cors-allow-origin`]: 'https://app.test, https://*.example.com',
      [`${NGINX}cors-expose-headers`]: 'X-Total',
      [`${NGINX}cors-max-age`]: '600',
    }),
    ingressYaml('cors-any', HOST, [{ path: '/cors-any', service: 'app' }], { [`${NGINX}enable-cors`]: 'true' }),
    ingressYaml('errors', HOST, [{ path: '/errors', service: 'app' }], {
      [`${NGINX}custom-http-errors`]: '404,503',
      [`${NGINX}default-backend`]: 'errors',
    }),
    ingressYaml('errors-builtin', HOST, [{ path: '/errors-builtin', service: 'app' }], {
      [`${NGINX}custom-http-errors`]: '503',
    }),
    ingressYaml('fallback', HOST, [{ path: '/fallback', service: 'empty' }], {
      [`${NGINX}default-backend`]: 'errors',
    }),
    ingressYaml('no-fallback', HOST, [{ path: '/no-fallback', service: 'empty' }]),
    ingressYaml('rps', HOST, [{ path: '/rps', service: 'app' }], {
      [`${NGINX}limit-rps`]: '1',
      [`${NGINX}limit-burst-multiplier`]: '2',
    }),
    ingressYaml('conn', HOST, [{ path: '/conn', service: 'app' }], { [`${NGINX}limit-connections`]: '2' }),
  );
}

describe('response annotations through the proxy', () => {
  let app: TestBackend;
  let errors: TestBackend;
  let state: TestLiveState;
  let running: RunningProxy;

  before(async () => {
    const echo = echoHandler('app');
    app = await startBackend('app', '127.0.0.2', (req, res) => {
      const status = /\/status\/(\d{3})(\?|$)/.exec(req.url ?? '')?.[1];
      if (status !== undefined) {
        req.resume();
        res.writeHead(Number(status), { 'content-type': 'text/plain', 'x-from': 'app' });
        res.end(`upstream ${status}`);
      } else if (req.url?.endsWith('/hold')) {
        held.push(res);
      } else if (req.url?.endsWith('/own-cors')) {
        res.writeHead(200, { 'access-control-allow-origin': 'https://elsewhere.test' });
        res.end('own');
      } else {
        echo(req, res);
      }
    });
    errors = await startBackend('errors', '127.0.0.3', (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<p>error page code=${String(req.headers['x-code'])} url=${req.url ?? ''}</p>`);
    });
    state = new TestLiveState(responsesManifests(app, errors));
    // A clock that stands still: limit-rps counts outcomes, never elapsed time.
    running = await startProxy(state, { now: () => 0 });
  });

  after(async () => {
    releaseHeld();
    await running.close();
    await app.close();
    await errors.close();
  });

  const preflight = (path: string, origin: string): Promise<TestResponse> =>
    send(running.port, {
      method: 'OPTIONS',
      host: HOST,
      path,
      headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
    });

  const fromOrigin = (path: string, origin: string): Promise<TestResponse> =>
    send(running.port, { host: HOST, path, headers: { origin } });

  test('compiles without diagnostics', () => {
    assert.deepEqual(state.diagnostics, []);
  });

  test('CORS preflight from an allowed origin: 204 from Portico with the fields, the backend never sees it', async () => {
    const before = app.seen.length;
    const response = await preflight('/cors/items', 'https://app.test');
    assert.equal(response.status, 204);
    assert.equal(response.body, '');
    assert.equal(response.headers['access-control-allow-origin'], 'https://app.test');
    assert.equal(response.headers['access-control-allow-credentials'], 'true');
    assert.equal(response.headers['access-control-allow-methods'], 'GET, PUT, POST, DELETE, PATCH, OPTIONS');
    assert.match(String(response.headers['access-control-allow-headers']), /^DNT,Keep-Alive,.*,Authorization$/);
    assert.equal(response.headers['access-control-expose-headers'], 'X-Total');
    assert.equal(response.headers['access-control-max-age'], '600');
    assert.equal(app.seen.length, before, 'the backend saw nothing');
  });

  test('CORS: an allowed origin (wildcard subdomain) gets the fields on the backend response, replacing its own', async () => {
    const response = await fromOrigin('/cors/items', 'https://api.example.com');
    assert.equal(response.status, 200);
    assert.equal((JSON.parse(response.body) as { url: string }).url, '/cors/items');
    assert.equal(response.headers['access-control-allow-origin'], 'https://api.example.com');
    assert.equal(response.headers['access-control-expose-headers'], 'X-Total');

    const own = await fromOrigin('/cors/own-cors', 'https://app.test');
    assert.equal(own.headers['access-control-allow-origin'], 'https://app.test');
  });

  test('CORS: another origin gets no fields, and its preflight goes to the backend', async () => {
    const response = await fromOrigin('/cors/items', 'https://evil.test');
    assert.equal(response.status, 200);
    const corsFields = Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
    assert.deepEqual(corsFields, []);

    const before = app.seen.length;
    const forwarded = await preflight('/cors/items', 'https://a.b.example.com');
    assert.equal(forwarded.status, 200);
    assert.equal(forwarded.headers['access-control-allow-origin'], undefined);
    assert.equal(app.seen.length, before + 1);
    assert.equal(app.seen.at(-1)?.method, 'OPTIONS');
  });

  test('CORS with the default origin *: any Origin gets *, a request without Origin gets nothing', async () => {
    const withOrigin = await fromOrigin('/cors-any', 'https://x.test');
    assert.equal(withOrigin.headers['access-control-allow-origin'], '*');
    assert.equal(withOrigin.headers['access-control-max-age'], '1728000');
    const without = await send(running.port, { host: HOST, path: '/cors-any' });
    assert.equal(without.headers['access-control-allow-origin'], undefined);
  });

  test('custom-http-errors: a listed upstream status is answered by the default-backend, with the original status', async () => {
    const errorsBefore = errors.seen.length;
    const response = await send(running.port, {
      host: HOST,
      path: '/errors/status/404?q=1',
      headers: { accept: 'text/html' },
    });
    assert.equal(response.status, 404);
    assert.equal(response.body, '<p>error page code=404 url=/</p>');
    assert.equal(response.headers['content-type'], 'text/html');
    assert.equal(response.headers['x-from'], undefined, 'nothing of the replaced response goes out');
    assert.equal(errors.seen.length, errorsBefore + 1);
    const asked = errors.seen.at(-1);
    const upstream = app.seen.at(-1);
    assert.equal(asked?.method, 'GET');
    assert.equal(asked?.url, '/');
    assert.deepEqual(
      {
        code: asked?.headers['x-code'],
        format: asked?.headers['x-format'],
        uri: asked?.headers['x-original-uri'],
        namespace: asked?.headers['x-namespace'],
        ingress: asked?.headers['x-ingress-name'],
        service: asked?.headers['x-service-name'],
        port: asked?.headers['x-service-port'],
        host: asked?.headers.host,
      },
      {
        code: '404',
        format: 'text/html',
        uri: '/errors/status/404?q=1',
        namespace: 'default',
        ingress: 'errors',
        service: 'app',
        port: '80',
        host: HOST,
      },
    );
    assert.ok(asked?.headers['x-request-id']);
    assert.equal(asked?.headers['x-request-id'], upstream?.headers['x-request-id'], 'the same request id both ways');
    const line = running.accessLogs().find((entry) => entry.path === '/errors/status/404?q=1');
    assert.equal(line?.status, 404);
    assert.equal(line?.upstreamStatus, 404);
  });

  test('custom-http-errors: a POST is replaced too (the error backend gets GET without a body); other statuses pass', async () => {
    const response = await send(running.port, {
      method: 'POST',
      host: HOST,
      path: '/errors/status/503',
      body: 'payload',
    });
    assert.equal(response.status, 503);
    assert.equal(response.body, '<p>error page code=503 url=/</p>');
    const asked = errors.seen.at(-1);
    assert.equal(asked?.method, 'GET');
    assert.equal(asked?.headers['content-length'], undefined);

    const errorsBefore = errors.seen.length;
    const passed = await send(running.port, { host: HOST, path: '/errors/status/500' });
    assert.equal(passed.status, 500);
    assert.equal(passed.body, 'upstream 500');
    assert.equal(errors.seen.length, errorsBefore);
  });

  test('custom-http-errors without a default-backend: Portico answers the status with its own short body', async () => {
    const errorsBefore = errors.seen.length;
    const response = await send(running.port, { host: HOST, path: '/errors-builtin/status/503' });
    assert.equal(response.status, 503);
    assert.match(response.body, /^503 Service Unavailable\nrequest-id: \S+\n$/);
    assert.equal(errors.seen.length, errorsBefore);
  });

  test('default-backend serves a route whose Service has no ready endpoint (without it: 503)', async () => {
    const response = await send(running.port, { host: HOST, path: '/fallback/page' });
    assert.equal(response.status, 200);
    assert.equal(response.body, '<p>error page code=undefined url=/fallback/page</p>');
    const without = await send(running.port, { host: HOST, path: '/no-fallback/page' });
    assert.equal(without.status, 503);
    assert.match(without.body, /PORTICO_ERR_NO_ENDPOINTS/);
  });

  test('limit-rps: one client past rate + burst gets 503; another client address is unaffected', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 6; index++) {
      statuses.push((await send(running.port, { host: HOST, path: '/rps', localAddress: '127.0.0.1' })).status);
    }
    // 1 rps × multiplier 2: a burst of 2 on top of the first request.
    assert.deepEqual(statuses, [200, 200, 200, 503, 503, 503]);
    const refused = await send(running.port, { host: HOST, path: '/rps', localAddress: '127.0.0.1' });
    assert.match(refused.body, /code: PORTICO_ERR_RATE_LIMITED/);
    const other: number[] = [];
    for (let index = 0; index < 3; index++) {
      other.push((await send(running.port, { host: HOST, path: '/rps', localAddress: '127.0.0.4' })).status);
    }
    assert.deepEqual(other, [200, 200, 200]);
    // Another Ingress is not limited at all.
    assert.equal((await send(running.port, { host: HOST, path: '/cors-any', localAddress: '127.0.0.1' })).status, 200);
  });

  test('limit-connections: the third request in flight from one address is refused; others and later ones pass', async () => {
    const first = send(running.port, { host: HOST, path: '/conn/hold', localAddress: '127.0.0.1' });
    const second = send(running.port, { host: HOST, path: '/conn/hold', localAddress: '127.0.0.1' });
    await waitFor(() => held.length === 2);
    const third = await send(running.port, { host: HOST, path: '/conn/quick', localAddress: '127.0.0.1' });
    assert.equal(third.status, 503);
    assert.match(third.body, /code: PORTICO_ERR_TOO_MANY_CONNECTIONS/);
    const elsewhere = await send(running.port, { host: HOST, path: '/conn/quick', localAddress: '127.0.0.5' });
    assert.equal(elsewhere.status, 200);
    releaseHeld();
    assert.deepEqual([(await first).status, (await second).status], [200, 200]);
    // The slots are given back when the responses close (just after the client has read them).
    let again = 0;
    for (let tries = 0; tries < 50 && again !== 200; tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      again = (await send(running.port, { host: HOST, path: '/conn/quick', localAddress: '127.0.0.1' })).status;
    }
    assert.equal(again, 200);
  });
});

describe('limit status code', () => {
  test('--limit-status-code 429 is used for refusals', async () => {
    const app = await startBackend('app', '127.0.0.2');
    const errors = await startBackend('errors', '127.0.0.3');
    const running = await startProxy(new TestLiveState(responsesManifests(app, errors)), {
      now: () => 0,
      limits: { limitStatusCode: 429 },
    });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 4; index++)
        statuses.push((await send(running.port, { host: HOST, path: '/rps' })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    } finally {
      await running.close();
      await app.close();
      await errors.close();
    }
  });
});
