// Upstream behaviour per route through the real proxy (issue 7 item 4): proxy-next-upstream on
// statuses and failures, its tries limit and `off`, the POST rules, a route's own
// proxy-connect-timeout, and service-upstream sending to the ClusterIP.

import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ConnectLookup } from '../../src/upstream/guarded-lookup.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, type TestResponse } from '../support/proxy-harness.ts';
import { startProxy } from '../support/proxy-harness.ts';
import { type BackendHandler, startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

/** Answers `status` with a short body, after reading the request. */
function answer(status: number, name: string): BackendHandler {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = `${status} from ${name}`;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

function statuses(responses: readonly TestResponse[]): number[] {
  return responses.map((response) => response.status).sort();
}

async function sequential(count: number, request: () => Promise<TestResponse>): Promise<TestResponse[]> {
  const responses: TestResponse[] = [];
  for (let index = 0; index < count; index++) responses.push(await request());
  return responses;
}

describe('proxy-next-upstream, proxy-connect-timeout and service-upstream', () => {
  let good: TestBackend;
  let bad502: TestBackend;
  let bad503: TestBackend[];
  let clusterIp: TestBackend;
  let pod: TestBackend;
  let running: RunningProxy;
  /** TCP connections bad502 accepted */
  let bad502Connections = 0;

  before(async () => {
    good = await startBackend('good', '127.0.0.2');
    bad502 = await startBackend('bad502', '127.0.0.3', answer(502, 'bad502'));
    bad502.server.on('connection', (_socket: Socket) => bad502Connections++);
    bad503 = [
      await startBackend('bad503a', '127.0.0.4', answer(503, 'bad503a')),
      await startBackend('bad503b', '127.0.0.5', answer(503, 'bad503b')),
      await startBackend('bad503c', '127.0.0.6', answer(503, 'bad503c')),
    ];
    clusterIp = await startBackend('cluster-ip', '127.0.0.8');
    pod = await startBackend('pod', '127.0.0.9');
    const probe = await startBackend('probe', '127.0.0.7');
    await probe.close();
    const refusedPort = probe.port;
    const lookup: ConnectLookup = (hostname, options, callback) => {
      if (hostname === 'blackhole.test') return; // never answers: only a connect timeout ends it
      dnsLookup(hostname, options, callback as never);
    };
    const [bad503a, bad503b, bad503c] = bad503 as [TestBackend, TestBackend, TestBackend];
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        serviceYaml('flaky502'),
        serviceYaml('all503'),
        serviceYaml('mixed503'),
        serviceYaml('refusing'),
        serviceYaml('vip', { clusterIP: clusterIp.address, port: clusterIp.port }),
        serviceYaml('blackhole', { externalName: 'blackhole.test' }),
        sliceYaml('web', [{ ip: good.address, port: good.port }]),
        sliceYaml('flaky502', [{ ip: bad502.address, port: bad502.port }], 'flaky502-bad'),
        sliceYaml('flaky502', [{ ip: good.address, port: good.port }], 'flaky502-good'),
        sliceYaml('all503', [{ ip: bad503a.address, port: bad503a.port }], 'all503-a'),
        sliceYaml('all503', [{ ip: bad503b.address, port: bad503b.port }], 'all503-b'),
        sliceYaml('all503', [{ ip: bad503c.address, port: bad503c.port }], 'all503-c'),
        sliceYaml('mixed503', [{ ip: bad503a.address, port: bad503a.port }], 'mixed503-bad'),
        sliceYaml('mixed503', [{ ip: good.address, port: good.port }], 'mixed503-good'),
        sliceYaml('refusing', [{ ip: '127.0.0.7', port: refusedPort }], 'refusing-refused'),
        sliceYaml('refusing', [{ ip: good.address, port: good.port }], 'refusing-good'),
        sliceYaml('vip', [{ ip: pod.address, port: pod.port }]),
        ingressYaml('plain', 'app.test', [
          { path: '/', service: 'web' },
          { path: '/plain502', service: 'flaky502' },
          { path: '/refusing', service: 'refusing' },
          { path: '/pods', service: 'vip', port: clusterIp.port },
          { path: '/blackhole', service: 'blackhole' },
        ]),
        ingressYaml('retry502', 'app.test', [{ path: '/retry502', service: 'flaky502' }], {
          [`${NGINX}proxy-next-upstream`]: 'error http_502',
        }),
        ingressYaml('tries2', 'app.test', [{ path: '/tries2', service: 'all503' }], {
          [`${NGINX}proxy-next-upstream`]: 'http_503',
          [`${NGINX}proxy-next-upstream-tries`]: '2',
        }),
        ingressYaml('tries0', 'app.test', [{ path: '/tries0', service: 'all503' }], {
          [`${NGINX}proxy-next-upstream`]: 'http_503',
          [`${NGINX}proxy-next-upstream-tries`]: '0',
        }),
        ingressYaml('off', 'app.test', [{ path: '/off', service: 'refusing' }], {
          [`${NGINX}proxy-next-upstream`]: 'off',
        }),
        ingressYaml('post503', 'app.test', [{ path: '/post503', service: 'mixed503' }], {
          [`${NGINX}proxy-next-upstream`]: 'http_503',
        }),
        ingressYaml('post503-any', 'app.test', [{ path: '/post503-any', service: 'mixed503' }], {
          [`${NGINX}proxy-next-upstream`]: 'http_503 non_idempotent',
        }),
        ingressYaml('fast-connect', 'app.test', [{ path: '/blackhole-fast', service: 'blackhole' }], {
          [`${NGINX}proxy-connect-timeout`]: '1',
        }),
        ingressYaml('via-cluster-ip', 'app.test', [{ path: '/vip', service: 'vip', port: clusterIp.port }], {
          [`${NGINX}service-upstream`]: 'true',
        }),
      ),
    );
    assert.deepEqual(state.diagnostics, []);
    running = await startProxy(state, {
      // The proxy-wide connect timeout is far longer than any test: only a route's own ends sooner.
      timeouts: { connectMs: 60_000 },
      externalNames: { lookup, isForbidden: () => false },
    });
  });

  after(async () => {
    await running.close();
    for (const backend of [good, bad502, ...bad503, clusterIp, pod]) await backend.close();
  });

  test('a 502 goes to the other endpoint when http_502 is listed; the dropped response frees its connection', async () => {
    const badBefore = bad502.seen.length;
    const goodBefore = good.seen.length;
    const responses = await sequential(6, () => send(running.port, { path: '/retry502' }));
    assert.deepEqual(statuses(responses), [200, 200, 200, 200, 200, 200]);
    assert.equal(bad502.seen.length - badBefore, 3, 'round robin tried the 502 endpoint first every other time');
    assert.equal(good.seen.length - goodBefore, 6);
    assert.equal(bad502Connections, 1, 'each dropped 502 was read to its end and its connection reused');
    const retries = await running.metrics.registry.getSingleMetricAsString('portico_upstream_retries_total');
    assert.match(retries, /service="flaky502"\} 3/);
  });

  test('without http_502 the 502 is passed on', async () => {
    const responses = await sequential(4, () => send(running.port, { path: '/plain502' }));
    assert.deepEqual(statuses(responses), [200, 200, 502, 502]);
    assert.match(responses.find((response) => response.status === 502)?.body ?? '', /502 from bad502/);
  });

  test('tries caps the attempts; 0 tries each endpoint once; the last answer is passed on', async () => {
    const hits = (): number => bad503.reduce((sum, backend) => sum + backend.seen.length, 0);
    const before = hits();
    const two = await send(running.port, { path: '/tries2' });
    assert.equal(two.status, 503);
    assert.match(two.body, /^503 from bad503/);
    assert.equal(hits() - before, 2);
    const perBackend = bad503.map((backend) => backend.seen.length);
    const all = await send(running.port, { path: '/tries0' });
    assert.equal(all.status, 503);
    assert.deepEqual(
      bad503.map((backend, index) => backend.seen.length - (perBackend[index] as number)),
      [1, 1, 1],
    );
  });

  test('off: a refused endpoint is not retried (the default retries it)', async () => {
    const off = await sequential(4, () => send(running.port, { path: '/off' }));
    assert.deepEqual(statuses(off), [200, 200, 502, 502]);
    assert.match(off.find((response) => response.status === 502)?.body ?? '', /PORTICO_ERR_UPSTREAM_REFUSED/);
    const byDefault = await sequential(4, () => send(running.port, { path: '/refusing' }));
    assert.deepEqual(statuses(byDefault), [200, 200, 200, 200]);
  });

  test('a POST goes again on a status only with non_idempotent and no body', async () => {
    const post = (path: string, body: string): Promise<TestResponse> =>
      send(running.port, { method: 'POST', path, body });
    // Two requests each: round robin sends one of them to the 503 endpoint first.
    assert.deepEqual(statuses(await sequential(2, () => post('/post503', ''))), [200, 503]);
    assert.deepEqual(statuses(await sequential(2, () => post('/post503', 'form=1'))), [200, 503]);
    assert.deepEqual(statuses(await sequential(2, () => post('/post503-any', 'form=1'))), [200, 503]);
    assert.deepEqual(statuses(await sequential(2, () => post('/post503-any', ''))), [200, 200]);
    assert.deepEqual(statuses(await sequential(2, () => send(running.port, { path: '/post503' }))), [200, 200]);
  });

  test("a route's proxy-connect-timeout answers 504 while the default-timeout route still waits", async () => {
    let slowSettled = false;
    const slow = send(running.port, { path: '/blackhole' }).then(
      () => (slowSettled = true),
      () => (slowSettled = true),
    );
    const fast = await send(running.port, { path: '/blackhole-fast' });
    assert.equal(fast.status, 504);
    assert.match(fast.body, /PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT/);
    assert.equal(slowSettled, false, 'the route without the annotation keeps the proxy-wide connect timeout');
    assert.equal((await send(running.port, { path: '/' })).status, 200);
    void slow;
  });

  test('service-upstream sends to the ClusterIP and Service port, not to a pod', async () => {
    const viaClusterIp = await send(running.port, { path: '/vip/x' });
    assert.equal(viaClusterIp.status, 200);
    assert.equal((JSON.parse(viaClusterIp.body) as { name: string; url: string }).name, 'cluster-ip');
    const viaPods = await send(running.port, { path: '/pods' });
    assert.equal((JSON.parse(viaPods.body) as { name: string }).name, 'pod');
  });
});
