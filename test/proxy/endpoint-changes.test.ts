// Endpoints change under load: new requests go only to ready endpoints; requests already in
// flight to an endpoint that is removed or starts terminating finish; pools follow the sets.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml, type TestEndpoint } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

describe('endpoint changes', () => {
  const held: ServerResponse[] = [];
  let slow: TestBackend;
  let other: TestBackend;
  let state: TestLiveState;
  let running: RunningProxy;

  /** Answers only when the test releases it: a request held in flight. */
  function release(): void {
    for (const res of held.splice(0)) res.end('slow done');
  }

  /** The Service's endpoints become exactly these (one slice each, as ports differ). */
  function setEndpoints(endpoints: readonly TestEndpoint[]): void {
    state.updateSlices(endpoints.map((endpoint, index) => sliceYaml('web', [endpoint], `web-${index}`)).join('---\n'));
  }

  async function waitForHeld(count: number): Promise<void> {
    for (let round = 0; round < 100 && held.length < count; round++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, count);
  }

  beforeEach(async () => {
    slow = await startBackend('slow', '127.0.0.2', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('slow ');
      held.push(res);
    });
    other = await startBackend('other', '127.0.0.3', (_req, res) => res.end('other'));
    state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: slow.address, port: slow.port }]),
        ingressYaml('example', 'app.test', [{ path: '/', service: 'web' }]),
      ),
    );
    running = await startProxy(state);
  });

  afterEach(async () => {
    release();
    await running.close();
    await slow.close();
    await other.close();
  });

  test('an endpoint removed while requests are in flight: they finish, new ones go elsewhere', async () => {
    const inFlight = [send(running.port), send(running.port), send(running.port)];
    await waitForHeld(3);
    setEndpoints([{ ip: other.address, port: other.port }]);
    running.proxy.reconcilePools();
    assert.ok(!running.proxy.upstreamOrigins().includes(`http://${slow.address}:${slow.port}`), 'pool retired');
    for (let index = 0; index < 5; index++) assert.equal((await send(running.port)).body, 'other');
    release();
    for (const response of await Promise.all(inFlight)) {
      assert.equal(response.status, 200);
      assert.equal(response.body, 'slow slow done');
    }
  });

  test('a terminating endpoint takes no new requests, finishes its own, and keeps its pool', async () => {
    const inFlight = [send(running.port), send(running.port)];
    await waitForHeld(2);
    setEndpoints([
      { ip: slow.address, port: slow.port, ready: false, serving: true, terminating: true },
      { ip: other.address, port: other.port },
    ]);
    running.proxy.reconcilePools();
    assert.ok(running.proxy.upstreamOrigins().includes(`http://${slow.address}:${slow.port}`), 'pool kept');
    for (let index = 0; index < 6; index++) assert.equal((await send(running.port)).body, 'other');
    release();
    for (const response of await Promise.all(inFlight)) assert.equal(response.body, 'slow slow done');
  });

  test('no ready endpoint left: 503, and routing resumes when one comes back', async () => {
    setEndpoints([{ ip: slow.address, port: slow.port, ready: false }]);
    const response = await send(running.port);
    assert.equal(response.status, 503);
    assert.match(response.body, /PORTICO_ERR_NO_ENDPOINTS/);
    setEndpoints([{ ip: other.address, port: other.port }]);
    assert.equal((await send(running.port)).body, 'other');
  });

  test('endpoint changes under a bounded request loop: no request fails', async () => {
    const stopAt = Date.now() + 5_000;
    let failures = 0;
    let done = 0;
    const loop = async (): Promise<void> => {
      for (let index = 0; index < 60 && Date.now() < stopAt; index++) {
        const response = await send(running.port, { path: '/loop' });
        if (response.status !== 200) failures++;
        done++;
      }
    };
    // `slow` holds responses, so the loop uses `other` and a third backend alternately.
    const third = await startBackend('third', '127.0.0.4', (_req, res) => res.end('third'));
    try {
      setEndpoints([{ ip: other.address, port: other.port }]);
      const loops = [loop(), loop(), loop()];
      for (let flip = 0; flip < 10; flip++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        setEndpoints(
          flip % 2 === 0
            ? [{ ip: third.address, port: third.port }]
            : [
                { ip: other.address, port: other.port },
                { ip: third.address, port: third.port, ready: false, serving: true, terminating: true },
              ],
        );
        running.proxy.reconcilePools();
      }
      await Promise.all(loops);
    } finally {
      await third.close();
    }
    assert.ok(done > 0);
    assert.equal(failures, 0);
  });
});
