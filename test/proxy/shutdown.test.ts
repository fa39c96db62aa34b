// close(): stop accepting, let requests in flight finish within the grace period, then cut
// what is left (open WebSockets included) and close the upstream pools.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });
}

describe('shutdown', () => {
  const held: ServerResponse[] = [];
  let slow: TestBackend;
  let running: RunningProxy;

  beforeEach(async () => {
    slow = await startBackend('slow', '127.0.0.2', (_req, res) => {
      held.push(res);
    });
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: slow.address, port: slow.port }]),
        ingressYaml('example', 'app.test', [{ path: '/', service: 'web' }]),
      ),
    );
    running = await startProxy(state);
  });

  afterEach(async () => {
    for (const res of held.splice(0)) res.destroy();
    await slow.close();
  });

  async function waitForHeld(count: number): Promise<void> {
    for (let round = 0; round < 100 && held.length < count; round++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, count);
  }

  test('requests in flight finish; new connections are refused', async () => {
    const inFlight = send(running.port);
    await waitForHeld(1);
    const closing = running.proxy.close({ graceMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await refused(running.port), true);
    held.shift()?.end('finished during shutdown');
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(response.body, 'finished during shutdown');
    await closing;
    assert.deepEqual(running.proxy.upstreamOrigins(), []);
  });

  test('past the grace period, what is still running is cut', async () => {
    const inFlight = send(running.port).then(
      () => 'answered',
      () => 'cut',
    );
    await waitForHeld(1);
    await running.proxy.close({ graceMs: 100 });
    assert.equal(await inFlight, 'cut');
  });
});
