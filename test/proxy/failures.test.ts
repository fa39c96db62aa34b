// Failure semantics with real misbehaving backends: timeouts → 504, refused/reset → retried when
// allowed else 502, a reset mid-response truncates only that response, and other routes carry on.

import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ConnectLookup } from '../../src/upstream/guarded-lookup.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, sendLargeBody, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

/** A port on `address` with nothing listening: connecting is refused. */
async function refusedPort(address: string): Promise<number> {
  const probe = await startBackend('probe', address);
  await probe.close();
  return probe.port;
}

/** GET that reports how the response ended instead of failing on truncation. */
function fetchTruncated(port: number, path: string): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: 'app.test' }, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }));
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}

describe('failure semantics', () => {
  const hanging: ServerResponse[] = [];
  let web: TestBackend;
  let hanger: TestBackend;
  let resetter: TestBackend;
  let good: TestBackend;
  let midway: TestBackend;
  let running: RunningProxy;

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    hanger = await startBackend('hanger', '127.0.0.3', (_req, res) => {
      hanging.push(res);
    });
    resetter = await startBackend('resetter', '127.0.0.5', (req: IncomingMessage) => {
      // Reads a little of any body first, so a request body has certainly started to flow.
      if (req.method === 'POST') req.once('data', () => req.socket.destroy());
      else req.socket.destroy();
    });
    good = await startBackend('good', '127.0.0.6');
    midway = await startBackend('midway', '127.0.0.7', (_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 'a'));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const refused = await refusedPort('127.0.0.4');
    const lookup: ConnectLookup = (hostname, options, callback) => {
      if (hostname === 'blackhole.test') return; // never answers: the connect timeout must fire
      if (hostname === 'backend.test') {
        if ((options as { all?: boolean }).all) callback(null, [{ address: web.address, family: 4 }]);
        else callback(null, web.address, 4);
        return;
      }
      dnsLookup(hostname, options, callback as never);
    };
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        serviceYaml('hang'),
        serviceYaml('flaky'),
        serviceYaml('resetting'),
        serviceYaml('midway'),
        serviceYaml('blackhole', { externalName: 'blackhole.test' }),
        serviceYaml('external', { externalName: 'backend.test', port: web.port }),
        serviceYaml('loopback', { externalName: 'localhost' }),
        serviceYaml('literal', { externalName: '169.254.169.254' }),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        sliceYaml('hang', [{ ip: hanger.address, port: hanger.port }]),
        sliceYaml('flaky', [{ ip: '127.0.0.4', port: refused }], 'flaky-refused'),
        sliceYaml('flaky', [{ ip: web.address, port: web.port }], 'flaky-web'),
        sliceYaml('resetting', [{ ip: resetter.address, port: resetter.port }], 'resetting-1'),
        sliceYaml('resetting', [{ ip: good.address, port: good.port }], 'resetting-2'),
        sliceYaml('midway', [{ ip: midway.address, port: midway.port }]),
        ingressYaml('example', 'app.test', [
          { path: '/', service: 'web' },
          { path: '/hang', service: 'hang' },
          { path: '/flaky', service: 'flaky' },
          { path: '/resetting', service: 'resetting' },
          { path: '/midway', service: 'midway' },
          { path: '/blackhole', service: 'blackhole' },
          { path: '/external', service: 'external', port: web.port },
          { path: '/loopback', service: 'loopback' },
          { path: '/literal', service: 'literal' },
        ]),
      ),
    );
    running = await startProxy(state, {
      timeouts: { readMs: 400, connectMs: 400 },
      // Tests run on loopback: let ExternalName reach 127.0.0.2, keep refusing 127.0.0.1 and link-local.
      externalNames: {
        lookup,
        isForbidden: (address) => address === '127.0.0.1' || address === '::1' || address.startsWith('169.254.'),
      },
    });
  });

  after(async () => {
    await running.close();
    for (const res of hanging) res.destroy();
    for (const backend of [web, hanger, resetter, good, midway]) await backend.close();
  });

  test('a hanging backend gets 504 at the read timeout while another route answers', async () => {
    const slow = send(running.port, { path: '/hang', headers: { 'x-request-id': 'rid-hang' } });
    for (let index = 0; index < 10; index++) {
      assert.equal((await send(running.port, { path: '/fast' })).status, 200);
    }
    const response = await slow;
    assert.equal(response.status, 504);
    assert.match(response.body, /PORTICO_ERR_UPSTREAM_READ_TIMEOUT/);
    assert.match(response.body, /rid-hang/);
  });

  test('a refused endpoint is retried on the other one, for GET and for a POST whose body was not sent', async () => {
    const before = web.seen.length;
    for (let index = 0; index < 4; index++) {
      const response = await send(running.port, { path: '/flaky' });
      assert.equal(response.status, 200);
    }
    for (let index = 0; index < 2; index++) {
      const response = await send(running.port, { method: 'POST', path: '/flaky', body: 'x'.repeat(1000) });
      assert.equal(response.status, 200);
    }
    assert.equal(web.seen.length - before, 6);
    const retries = await running.metrics.registry.getSingleMetricAsString('portico_upstream_retries_total');
    assert.match(retries, /portico_upstream_retries_total\{namespace="default",service="flaky"\} 3/);
    const connectErrors = await running.metrics.registry.getSingleMetricAsString(
      'portico_upstream_connect_errors_total',
    );
    assert.match(connectErrors, /reason="refused"\} 3/);
  });

  test('a reset before the response: GET is retried, a POST whose body was sent gets 502', async () => {
    const goodBefore = good.seen.length;
    const gets = [await send(running.port, { path: '/resetting' }), await send(running.port, { path: '/resetting' })];
    assert.deepEqual(
      gets.map((response) => response.status),
      [200, 200],
    );
    const posts = [
      await send(running.port, { method: 'POST', path: '/resetting', body: 'y'.repeat(200_000) }),
      await send(running.port, { method: 'POST', path: '/resetting', body: 'y'.repeat(200_000) }),
    ];
    assert.deepEqual(posts.map((response) => response.status).sort(), [200, 502]);
    const failed = posts.find((response) => response.status === 502);
    assert.match(failed?.body ?? '', /PORTICO_ERR_UPSTREAM_RESET/);
    const postsAtGood = good.seen.slice(goodBefore).filter((seen) => seen.method === 'POST');
    assert.equal(postsAtGood.length, 1, 'the failed POST was not replayed');
  });

  test('a backend that resets mid-response truncates that response only', async () => {
    const result = await fetchTruncated(running.port, '/midway');
    assert.equal(result.status, 200);
    assert.equal(result.complete, false);
    assert.ok(result.bytes < 100_000);
    assert.equal((await send(running.port, { path: '/after-midway' })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const line = running.accessLogs().find((entry) => entry.path === '/midway');
    assert.equal(line?.error, 'PORTICO_ERR_UPSTREAM_RESET');
    assert.equal(line?.upstreamStatus, 200);
  });

  test('a connect that does not complete gets 504 at the connect timeout', async () => {
    const response = await send(running.port, { path: '/blackhole' });
    assert.equal(response.status, 504);
    assert.match(response.body, /PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT/);
  });

  test('ExternalName: the name is resolved at connect time; loopback and link-local are refused', async () => {
    const external = await send(running.port, { path: '/external/x' });
    assert.equal(external.status, 200);
    assert.equal((JSON.parse(external.body) as { url: string }).url, '/external/x');
    const loopback = await send(running.port, { path: '/loopback' });
    assert.equal(loopback.status, 502);
    assert.match(loopback.body, /PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN/);
    const literal = await send(running.port, { path: '/literal' });
    assert.equal(literal.status, 502);
    assert.match(literal.body, /PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN/);
  });
});

describe('send timeout and client aborts', () => {
  const stuck: IncomingMessage[] = [];
  const streams: { closed: boolean }[] = [];
  let deaf: TestBackend;
  let streamer: TestBackend;
  let lazy: TestBackend;
  const lazyClosed: boolean[] = [];
  let running: RunningProxy;

  before(async () => {
    // Reads the whole body, then takes longer to answer than the client idle timeout.
    lazy = await startBackend('lazy', '127.0.0.4', (req, res) => {
      const index = lazyClosed.push(false) - 1;
      res.on('close', () => {
        lazyClosed[index] = true;
      });
      req.resume();
      req.on('end', () => setTimeout(() => res.end('late but fine'), 700));
    });
    // Takes the request but never reads its body: the upstream socket fills and stays full.
    deaf = await startBackend('deaf', '127.0.0.2', (req) => {
      req.pause();
      stuck.push(req);
    });
    // Streams until the connection goes away, and records that it did.
    streamer = await startBackend('streamer', '127.0.0.3', (_req, res) => {
      const record = { closed: false };
      streams.push(record);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 's')), 5);
      res.on('close', () => {
        clearInterval(timer);
        record.closed = true;
      });
    });
    const state = new TestLiveState(
      manifests(
        serviceYaml('deaf'),
        serviceYaml('streamer'),
        serviceYaml('lazy'),
        sliceYaml('lazy', [{ ip: lazy.address, port: lazy.port }]),
        sliceYaml('deaf', [{ ip: deaf.address, port: deaf.port }]),
        sliceYaml('streamer', [{ ip: streamer.address, port: streamer.port }]),
        ingressYaml('example', 'app.test', [
          { path: '/deaf', service: 'deaf' },
          { path: '/stream', service: 'streamer' },
          { path: '/lazy', service: 'lazy' },
        ]),
      ),
    );
    running = await startProxy(state, { timeouts: { sendMs: 300, readMs: 10_000, clientIdleMs: 300 } });
  });

  after(async () => {
    await running.close();
    for (const req of stuck) req.socket.destroy();
    await deaf.close();
    await streamer.close();
    await lazy.close();
  });

  test('waiting on a slow upstream is not client idleness', async () => {
    // The body arrives in two parts, so the idle timer is armed, then disarmed when it ends.
    const response = await new Promise<string>((resolve) => {
      const socket = connect(running.port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(received));
      socket.write('POST /lazy HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nContent-Length: 10\r\n\r\nfirst');
      setTimeout(() => socket.write('-last'), 50);
    });
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.match(response, /late but fine$/);
  });

  test('a client that stops sending its body is disconnected and the upstream request aborted', async () => {
    const closed = await new Promise<string>((resolve) => {
      const socket = connect(running.port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString();
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(received));
      socket.write('POST /lazy HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\nonly ten b');
    });
    assert.equal(closed, '', 'no response: the connection is simply closed');
    for (let round = 0; round < 100 && !lazyClosed.at(-1); round++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(lazyClosed.at(-1), true);
  });

  test('an upstream that stops taking the request body gets 504 at the send timeout', async () => {
    const total = 64 * 1024 * 1024;
    const response = await sendLargeBody(running.port, 'app.test', '/deaf', total);
    assert.equal(response.status, 504);
    assert.match(response.body, /PORTICO_ERR_UPSTREAM_SEND_TIMEOUT/);
  });

  test('a client that disconnects mid-response aborts the upstream request', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: running.port, path: '/stream', headers: { host: 'app.test' }, agent: false },
        (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > 100_000) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => {});
        },
      );
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no data')), 5_000).unref();
    });
    for (let round = 0; round < 100 && !streams[0]?.closed; round++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(streams[0]?.closed, true, 'the upstream connection was closed too');
    for (let round = 0; round < 50 && !running.accessLogs().some((line) => line.path === '/stream'); round++)
      await new Promise((r) => setTimeout(r, 10));
    const line = running.accessLogs().find((entry) => entry.path === '/stream');
    assert.equal(line?.status, 200);
    assert.equal(line?.error, 'PORTICO_ERR_CLIENT_ABORTED');
    assert.equal((await send(running.port, { path: '/deaf-check-still-up', host: 'nowhere.test' })).status, 404);
  });
});
