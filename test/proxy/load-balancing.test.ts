// Pickers behind the real proxy: round-robin spreads evenly, ClientIP affinity keeps a client
// on one endpoint, EWMA (global or per Ingress) sends most traffic to the faster endpoint.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, slicesFor } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { nameHandler, startBackend, startNamedBackends, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

describe('load balancing', () => {
  let rr: TestBackend[];
  let sticky: TestBackend[];
  let running: RunningProxy;

  before(async () => {
    rr = await startNamedBackends('rr', ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    sticky = await startNamedBackends('sticky', ['127.0.0.5', '127.0.0.6', '127.0.0.7']);
    const state = new TestLiveState(
      manifests(
        serviceYaml('rr'),
        serviceYaml('sticky', { sessionAffinity: 'ClientIP' }),
        ...slicesFor('rr', rr),
        ...slicesFor('sticky', sticky),
        ingressYaml('example', 'app.test', [
          { path: '/rr', service: 'rr' },
          { path: '/sticky', service: 'sticky' },
        ]),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    for (const backend of [...rr, ...sticky]) await backend.close();
  });

  test('round-robin spreads requests evenly', async () => {
    const counts = new Map<string, number>();
    for (let index = 0; index < 30; index++) {
      const { body } = await send(running.port, { path: '/rr' });
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], [10, 10, 10]);
  });

  test('sessionAffinity ClientIP keeps each client address on one endpoint', async () => {
    const chosen = new Map<string, Set<string>>();
    const clients = ['127.0.0.1', '127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'];
    for (let round = 0; round < 5; round++) {
      for (const client of clients) {
        const { body } = await send(running.port, { path: '/sticky', localAddress: client });
        const seen = chosen.get(client) ?? new Set<string>();
        seen.add(body);
        chosen.set(client, seen);
      }
    }
    for (const [client, seen] of chosen) assert.equal(seen.size, 1, `${client} moved between ${[...seen]}`);
    const used = new Set([...chosen.values()].flatMap((seen) => [...seen]));
    assert.ok(used.size >= 2, 'different clients spread over more than one endpoint');
  });
});

// The global flag, and the Ingress's `load-balance` annotation over a round-robin default.
const EWMA_SETUPS = [
  { name: 'ewma (--load-balance)', global: 'ewma', annotations: {} },
  {
    name: 'ewma (load-balance annotation)',
    global: 'round_robin',
    annotations: { 'nginx.ingress.kubernetes.io/load-balance': 'ewma' },
  },
] as const;

for (const setup of EWMA_SETUPS) {
  describe(setup.name, () => {
    let fast: TestBackend;
    let slow: TestBackend;
    let running: RunningProxy;

    before(async () => {
      fast = await startBackend('fast', '127.0.0.2', nameHandler('fast'));
      slow = await startBackend('slow', '127.0.0.3', (_req, res) => {
        setTimeout(() => res.end('slow'), 40);
      });
      const state = new TestLiveState(
        manifests(
          serviceYaml('web'),
          ...slicesFor('web', [fast, slow]),
          ingressYaml('example', 'app.test', [{ path: '/', service: 'web' }], setup.annotations),
        ),
      );
      running = await startProxy(state, { loadBalance: setup.global });
    });

    after(async () => {
      await running.close();
      await fast.close();
      await slow.close();
    });

    test('prefers the faster endpoint', async () => {
      let fastCount = 0;
      for (let index = 0; index < 40; index++) {
        if ((await send(running.port)).body === 'fast') fastCount++;
      }
      assert.ok(fastCount >= 30, `fast endpoint got ${fastCount} of 40`);
    });
  });
}
