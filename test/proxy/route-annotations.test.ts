// Per-route annotations through the real proxy: proxy-body-size (413 up front and while
// streaming a chunked body), proxy-read-timeout (504 on that route only), and the source-range
// allow and deny lists (403, client address from the socket: 127.0.0.x via localAddress).

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, sendLargeBody, startProxy, type TestResponse } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const HOST = 'annotated.test';

/** A chunked request (no Content-Length), its body written in `chunks`. */
function sendChunked(port: number, path: string, chunks: readonly Buffer[]): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { host: HOST }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
        );
        res.on('error', reject);
      },
    );
    // The proxy may answer 413 and close before the client has written everything.
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('route annotations through the proxy', () => {
  let backend: TestBackend;
  /** never reads a request body and never answers */
  let deaf: TestBackend;
  let state: TestLiveState;
  let running: RunningProxy;
  /** request bodies the backend received in full, by path */
  const received: { path: string; bytes: number }[] = [];

  before(async () => {
    backend = await startBackend('app', '127.0.0.2', (req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('error', () => {});
      req.on('end', () => {
        received.push({ path: req.url ?? '', bytes });
        const delay = req.url?.endsWith('/slow') ? 2_500 : 0;
        setTimeout(() => res.end(`got ${bytes}`), delay);
      });
    });
    deaf = await startBackend('deaf', '127.0.0.3', (req) => req.pause());
    state = new TestLiveState(
      manifests(
        serviceYaml('deaf'),
        sliceYaml('deaf', [{ ip: deaf.address, port: deaf.port }]),
        ingressYaml('send-timeout', HOST, [{ path: '/deaf', service: 'deaf' }], {
          [`${NGINX}proxy-send-timeout`]: '1',
        }),
        serviceYaml('app'),
        sliceYaml('app', [{ ip: backend.address, port: backend.port }]),
        ingressYaml('limited', HOST, [{ path: '/limited', service: 'app' }], { [`${NGINX}proxy-body-size`]: '1k' }),
        ingressYaml('unlimited', HOST, [{ path: '/unlimited', service: 'app' }], { [`${NGINX}proxy-body-size`]: '0' }),
        ingressYaml('plain', HOST, [{ path: '/plain', service: 'app' }]),
        ingressYaml('impatient', HOST, [{ path: '/impatient', service: 'app' }], {
          [`${NGINX}proxy-read-timeout`]: '1',
        }),
        ingressYaml('allow', HOST, [{ path: '/allow', service: 'app' }], {
          [`${NGINX}allowlist-source-range`]: '127.0.0.5/32, 10.0.0.0/8, 2001:db8::/32',
        }),
        ingressYaml('allow-old-name', HOST, [{ path: '/whitelist', service: 'app' }], {
          [`${NGINX}whitelist-source-range`]: '127.0.0.8',
        }),
        ingressYaml('deny', HOST, [{ path: '/deny', service: 'app' }], {
          [`${NGINX}denylist-source-range`]: '127.0.0.6/31',
        }),
        ingressYaml('bad-range', HOST, [{ path: '/bad-range', service: 'app' }], {
          [`${NGINX}allowlist-source-range`]: '127.0.0.5/32, not-an-ip',
        }),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await backend.close();
    await deaf.close();
  });

  test('proxy-body-size: Content-Length over the limit → 413 before anything goes upstream', async () => {
    const before = backend.seen.length;
    const over = await send(running.port, { method: 'POST', host: HOST, path: '/limited', body: 'x'.repeat(1025) });
    assert.equal(over.status, 413);
    assert.match(over.body, /^413 Payload Too Large\ncode: PORTICO_ERR_BODY_TOO_LARGE\nrequest-id: \S+/);
    assert.equal(backend.seen.length, before, 'the backend saw no request');

    const atLimit = await send(running.port, { method: 'POST', host: HOST, path: '/limited', body: 'x'.repeat(1024) });
    assert.equal(atLimit.status, 200);
    assert.equal(atLimit.body, 'got 1024');

    // `0` and no annotation: unlimited (Portico's default, unlike ingress-nginx's 1m).
    const big = 'y'.repeat(2 * 1024 * 1024);
    for (const path of ['/unlimited', '/plain']) {
      const response = await send(running.port, { method: 'POST', host: HOST, path, body: big });
      assert.equal(response.status, 200, path);
      assert.equal(response.body, `got ${big.length}`, path);
    }
  });

  test('proxy-body-size: a chunked body is counted while streaming → 413, the backend never gets it whole', async () => {
    const small = await sendChunked(running.port, '/limited/chunked-ok', [Buffer.alloc(500, 1), Buffer.alloc(500, 2)]);
    assert.equal(small.status, 200);
    assert.equal(small.body, 'got 1000');

    received.length = 0;
    const chunks = Array.from({ length: 8 }, (_, index) => Buffer.alloc(400, index));
    const over = await sendChunked(running.port, '/limited/chunked-over', chunks);
    assert.equal(over.status, 413);
    assert.match(over.body, /code: PORTICO_ERR_BODY_TOO_LARGE/);
    // Give an aborted upstream request time to show up if it (wrongly) completed.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      received.filter((entry) => entry.path === '/limited/chunked-over'),
      [],
      'the backend never received a complete over-limit body',
    );
    const line = running.accessLogs().find((entry) => entry.path === '/limited/chunked-over');
    assert.equal(line?.status, 413);
    assert.equal(line?.error, 'PORTICO_ERR_BODY_TOO_LARGE');
  });

  test('proxy-read-timeout: 1 s on one route → 504; a route without it waits for the slow backend', async () => {
    const started = Date.now();
    const [impatient, patient] = await Promise.all([
      send(running.port, { host: HOST, path: '/impatient/slow' }),
      send(running.port, { host: HOST, path: '/plain/slow' }),
    ]);
    assert.equal(impatient.status, 504);
    assert.match(impatient.body, /code: PORTICO_ERR_UPSTREAM_READ_TIMEOUT/);
    assert.equal(patient.status, 200);
    assert.equal(patient.body, 'got 0');
    const impatientLine = running.accessLogs().find((entry) => entry.path === '/impatient/slow');
    assert.ok(
      typeof impatientLine?.durationMs === 'number' && impatientLine.durationMs < 2_400,
      `timed out after ${String(impatientLine?.durationMs)} ms`,
    );
    assert.ok(Date.now() - started >= 2_400, 'the unannotated route waited for the backend');
  });

  test('proxy-send-timeout: 1 s on a route whose backend takes no body → 504 (the default is 60 s)', async () => {
    const started = Date.now();
    const total = 64 * 1024 * 1024;
    const response = await sendLargeBody(running.port, HOST, '/deaf', total);
    assert.equal(response.status, 504);
    assert.match(response.body, /PORTICO_ERR_UPSTREAM_SEND_TIMEOUT/);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  test('allowlist-source-range: only listed client addresses get through, others get 403', async () => {
    const inside = await send(running.port, { host: HOST, path: '/allow', localAddress: '127.0.0.5' });
    assert.equal(inside.status, 200);
    const outside = await send(running.port, { host: HOST, path: '/allow', localAddress: '127.0.0.1' });
    assert.equal(outside.status, 403);
    assert.match(outside.body, /^403 Forbidden\ncode: PORTICO_ERR_FORBIDDEN\nrequest-id: \S+/);
    assert.equal(outside.headers['x-request-id'], /request-id: (\S+)/.exec(outside.body)?.[1]);
    // X-Forwarded-For is not trusted in this batch.
    const spoofed = await send(running.port, {
      host: HOST,
      path: '/allow',
      localAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '127.0.0.5' },
    });
    assert.equal(spoofed.status, 403);

    assert.equal((await send(running.port, { host: HOST, path: '/whitelist', localAddress: '127.0.0.8' })).status, 200);
    assert.equal((await send(running.port, { host: HOST, path: '/whitelist', localAddress: '127.0.0.9' })).status, 403);
    // Other routes of the host are not restricted.
    assert.equal((await send(running.port, { host: HOST, path: '/plain', localAddress: '127.0.0.1' })).status, 200);
  });

  test('denylist-source-range: listed client addresses get 403, others get through', async () => {
    for (const address of ['127.0.0.6', '127.0.0.7']) {
      const response = await send(running.port, { host: HOST, path: '/deny', localAddress: address });
      assert.equal(response.status, 403, address);
      assert.match(response.body, /code: PORTICO_ERR_FORBIDDEN/);
    }
    assert.equal((await send(running.port, { host: HOST, path: '/deny', localAddress: '127.0.0.4' })).status, 200);
  });

  test('a source-range list with a bad entry is ignored whole (the route is open)', async () => {
    const response = await send(running.port, { host: HOST, path: '/bad-range', localAddress: '127.0.0.1' });
    assert.equal(response.status, 200);
    assert.ok(state.diagnostics.includes('Ingress default/bad-range: InvalidAnnotation'), state.diagnostics.join('; '));
  });
});
