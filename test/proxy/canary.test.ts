// Canary through the real proxy: the weight shifts 0 → 50 → 100 while load runs, the split
// follows within statistical tolerance, and no request fails; header and cookie overrides win.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const CANARY = 'nginx.ingress.kubernetes.io/canary';

describe('canary', () => {
  let v1: TestBackend;
  let v2: TestBackend;
  let state: TestLiveState;
  let running: RunningProxy;

  function objects(weight: number): string {
    return manifests(
      serviceYaml('app-v1'),
      serviceYaml('app-v2'),
      sliceYaml('app-v1', [{ ip: v1.address, port: v1.port }]),
      sliceYaml('app-v2', [{ ip: v2.address, port: v2.port }]),
      ingressYaml('main', 'shop.test', [{ path: '/', service: 'app-v1' }]),
      ingressYaml('shop-canary', 'shop.test', [{ path: '/', service: 'app-v2' }], {
        [CANARY]: 'true',
        [`${CANARY}-weight`]: String(weight),
        [`${CANARY}-by-header`]: 'X-Canary',
        [`${CANARY}-by-cookie`]: 'use_canary',
      }),
    );
  }

  before(async () => {
    v1 = await startBackend('v1', '127.0.0.2', (_req, res) => res.end('v1'));
    v2 = await startBackend('v2', '127.0.0.3', (_req, res) => res.end('v2'));
    state = new TestLiveState(objects(0));
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await v1.close();
    await v2.close();
  });

  /** `count` requests on 4 concurrent lanes; bodies tallied, failures counted. */
  async function load(count: number, headers: Record<string, string> = {}) {
    const tally = { v1: 0, v2: 0, failed: 0 };
    let next = 0;
    const lane = async () => {
      while (next < count) {
        next++;
        try {
          const response = await send(running.port, { host: 'shop.test', headers });
          if (response.status === 200 && (response.body === 'v1' || response.body === 'v2')) tally[response.body]++;
          else tally.failed++;
        } catch {
          tally.failed++;
        }
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    return tally;
  }

  test('weight 0 → 50 → 100 under load: the split follows, nothing fails', async (t) => {
    const zero = await load(200);
    assert.deepEqual(zero, { v1: 200, v2: 0, failed: 0 });

    // The table changes while a load is running.
    const during = load(400);
    state.load(objects(50));
    const transition = await during;
    assert.equal(transition.failed, 0);

    const half = await load(1_000);
    t.diagnostic(`weight 50: v1 ${half.v1}, v2 ${half.v2}, failed ${half.failed}`);
    assert.equal(half.failed, 0);
    // Binomial, n = 1000, p = 0.5: one standard deviation is 1.6 %; ±10 % is over 6 of them.
    assert.ok(half.v2 > 400 && half.v2 < 600, `v2 got ${half.v2} of 1000`);

    state.load(objects(100));
    const all = await load(200);
    assert.deepEqual(all, { v1: 0, v2: 200, failed: 0 });
  });

  test('header, then cookie, override the weight', async () => {
    state.load(objects(0));
    assert.deepEqual(await load(20, { 'x-canary': 'always' }), { v1: 0, v2: 20, failed: 0 });
    assert.deepEqual(await load(20, { cookie: 'a=1; use_canary=always' }), { v1: 0, v2: 20, failed: 0 });
    state.load(objects(100));
    assert.deepEqual(await load(20, { 'x-canary': 'never' }), { v1: 20, v2: 0, failed: 0 });
    assert.deepEqual(await load(20, { cookie: 'use_canary=never' }), { v1: 20, v2: 0, failed: 0 });
  });
});
