// The pickers as pure functions of their inputs: time and randomness are passed in.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClientIpAffinityPicker } from '../../src/endpoints/client-ip-affinity-picker.ts';
import { type PickRequest, readyEndpoints } from '../../src/endpoints/endpoint-picker.ts';
import { createEwmaPicker } from '../../src/endpoints/ewma-picker.ts';
import { createRoundRobinPicker } from '../../src/endpoints/round-robin-picker.ts';
import { type Endpoint, endpointId } from '../../src/endpoints/service-endpoints.ts';

function endpoint(address: string, ready = true): Endpoint {
  return { address, port: 80, id: endpointId(address, 80), ready, serving: ready, terminating: false };
}

const THREE = [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3')];

function request(candidates: readonly Endpoint[], overrides: Partial<PickRequest> = {}): PickRequest {
  return { candidates, clientIp: '192.0.2.1', nowMs: 0, avoidId: undefined, ...overrides };
}

describe('readyEndpoints', () => {
  test('keeps ready endpoints only, and returns the same list for the same input', () => {
    const all = [endpoint('10.0.0.1'), endpoint('10.0.0.2', false), endpoint('10.0.0.3')];
    const ready = readyEndpoints(all);
    assert.deepEqual(
      ready.map((entry) => entry.address),
      ['10.0.0.1', '10.0.0.3'],
    );
    assert.equal(readyEndpoints(all), ready);
    assert.equal(readyEndpoints(THREE), THREE, 'an all-ready list is used as is');
  });
});

describe('round-robin picker', () => {
  test('cycles through the candidates, per endpoint set', () => {
    const picker = createRoundRobinPicker();
    const picks = Array.from({ length: 6 }, () => picker.pick('a', request(THREE))?.address);
    assert.deepEqual(picks, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.equal(picker.pick('b', request(THREE))?.address, '10.0.0.1', 'another set has its own turn');
  });

  test('a retry avoids the failed endpoint without using up a turn', () => {
    const picker = createRoundRobinPicker();
    assert.equal(picker.pick('a', request(THREE))?.address, '10.0.0.1');
    assert.equal(picker.pick('a', request(THREE, { avoidId: '10.0.0.2:80' }))?.address, '10.0.0.3');
    assert.equal(picker.pick('a', request(THREE))?.address, '10.0.0.2');
    assert.equal(picker.pick('a', request([endpoint('10.0.0.1')], { avoidId: '10.0.0.1:80' })), undefined);
    assert.equal(picker.pick('a', request([])), undefined);
  });
});

describe('ClientIP affinity picker', () => {
  test('the same client always gets the same endpoint, and clients spread out', () => {
    const picker = createClientIpAffinityPicker();
    const chosen = new Set<string>();
    for (let client = 1; client <= 50; client++) {
      const clientIp = `198.51.100.${client}`;
      const first = picker.pick('a', request(THREE, { clientIp }));
      for (let repeat = 0; repeat < 3; repeat++) assert.equal(picker.pick('a', request(THREE, { clientIp })), first);
      chosen.add(first?.address ?? '');
    }
    assert.equal(chosen.size, 3);
  });

  test('removing one endpoint moves only the clients that were on it', () => {
    const picker = createClientIpAffinityPicker();
    const two = THREE.slice(0, 2);
    for (let client = 1; client <= 100; client++) {
      const clientIp = `203.0.113.${client}`;
      const before = picker.pick('a', request(THREE, { clientIp }));
      const after = picker.pick('a', request(two, { clientIp }));
      if (before?.address !== '10.0.0.3') assert.equal(after, before, `${clientIp} moved needlessly`);
    }
  });

  test('a retry goes to the client next-best endpoint', () => {
    const picker = createClientIpAffinityPicker();
    const first = picker.pick('a', request(THREE));
    const retry = picker.pick('a', request(THREE, { avoidId: first?.id }));
    assert.ok(retry && retry !== first);
  });
});

describe('EWMA picker', () => {
  const [a, b, c] = THREE as [Endpoint, Endpoint, Endpoint];

  function observe(picker: ReturnType<typeof createEwmaPicker>, target: Endpoint, latencyMs: number, nowMs: number) {
    picker.onStart(target.id);
    picker.onEnd(target.id, latencyMs, false, nowMs);
  }

  test('prefers the endpoint with the lower latency', () => {
    const picker = createEwmaPicker();
    observe(picker, a, 50, 1_000);
    observe(picker, b, 2, 1_000);
    for (let index = 0; index < 10; index++) assert.equal(picker.pick('s', request([a, b], { nowMs: 1_100 })), b);
  });

  test('counts outstanding requests against an endpoint', () => {
    const picker = createEwmaPicker();
    observe(picker, a, 10, 1_000);
    observe(picker, b, 12, 1_000);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 1_000 })), a);
    picker.onStart(a.id);
    picker.onStart(a.id);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 1_000 })), b);
  });

  test('an unmeasured endpoint is tried, but one probe at a time', () => {
    const picker = createEwmaPicker();
    observe(picker, a, 5, 1_000);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 1_000 })), b);
    picker.onStart(b.id);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 1_000 })), a);
  });

  test('a slow endpoint is probed again once its cost has decayed', () => {
    const picker = createEwmaPicker({ decayMs: 1_000 });
    observe(picker, a, 100, 0);
    observe(picker, b, 5, 0);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 10 })), b);
    observe(picker, b, 5, 10_000);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 10_000 })), a, 'a decayed to near zero');
  });

  test('failures count as the penalty latency', () => {
    const picker = createEwmaPicker({ failurePenaltyMs: 500 });
    observe(picker, a, 20, 0);
    picker.onStart(b.id);
    picker.onEnd(b.id, 1, true, 0);
    assert.equal(picker.pick('s', request([a, b], { nowMs: 1 })), a);
  });

  test('two random choices among more endpoints, from the injected source', () => {
    const draws = [0.0, 0.99];
    const picker = createEwmaPicker({ random: () => draws.shift() ?? 0 });
    observe(picker, a, 30, 0);
    observe(picker, c, 1, 0);
    observe(picker, b, 60, 0);
    assert.equal(picker.pick('s', request(THREE, { nowMs: 0 })), c, 'compares a and c');
    assert.equal(picker.pick('s', request(THREE, { nowMs: 0, avoidId: c.id })), a, 'a or b without c');
  });

  test('retain forgets idle endpoints that are gone', () => {
    const picker = createEwmaPicker();
    observe(picker, a, 100, 0);
    observe(picker, b, 1, 0);
    picker.retain(new Set([b.id]));
    assert.equal(picker.pick('s', request([a, b], { nowMs: 0 })), a, 'a is unmeasured again');
  });
});
