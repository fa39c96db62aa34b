// The limit-* bookkeeping on its own, with a hand-driven clock: nginx limit_req counts
// (1 + burst at once, then the rate), connections held until released, exempt ranges, and a
// bounded client table under a flood of distinct addresses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSourceRanges } from '../../src/compile/annotations/annotation-registry.ts';
import { RequestLimiter } from '../../src/proxy/request-limiter.ts';
import type { RequestLimits } from '../../src/routing/route-table.ts';

function limits(overrides: Partial<RequestLimits>): RequestLimits {
  return {
    zone: 'default/web',
    rps: undefined,
    rpm: undefined,
    burstMultiplier: 5,
    connections: undefined,
    exempt: undefined,
    ...overrides,
  };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let ms = 1_000;
  return { now: () => ms, advance: (by) => (ms += by) };
}

function admitted(limiter: RequestLimiter, rule: RequestLimits, ip: string, times: number): number {
  let count = 0;
  for (let index = 0; index < times; index++) if (limiter.admit(rule, ip).kind === 'allowed') count++;
  return count;
}

test('limit-rps: a quiet client gets 1 + burst at once, then one per 1/rate; other clients and zones apart', () => {
  const time = clock();
  const limiter = new RequestLimiter({ maxClients: 100, now: time.now });
  const rule = limits({ rps: 2, burstMultiplier: 3 });
  assert.equal(admitted(limiter, rule, '10.0.0.1', 20), 1 + 6);
  assert.deepEqual(limiter.admit(rule, '10.0.0.1'), { kind: 'refused', reason: 'rate' });
  assert.equal(admitted(limiter, rule, '10.0.0.2', 20), 7, 'another address has its own count');
  assert.equal(admitted(limiter, { ...rule, zone: 'default/other' }, '10.0.0.1', 20), 7, 'another Ingress too');
  time.advance(500);
  assert.equal(admitted(limiter, rule, '10.0.0.1', 20), 1, 'half a second at 2 rps drains one');
  time.advance(10_000);
  assert.equal(admitted(limiter, rule, '10.0.0.1', 20), 7, 'fully drained');
});

test('limit-rpm and limit-rps both apply; the stricter decides', () => {
  const limiter = new RequestLimiter({ maxClients: 100, now: clock().now });
  assert.equal(admitted(limiter, limits({ rps: 100, rpm: 1, burstMultiplier: 1 }), '10.0.0.1', 10), 2);
});

test('limit-connections: held until released; exempt ranges are never counted', () => {
  const limiter = new RequestLimiter({ maxClients: 100, now: clock().now });
  const rule = limits({ connections: 2 });
  const first = limiter.admit(rule, '10.0.0.1');
  const second = limiter.admit(rule, '10.0.0.1');
  assert.deepEqual(limiter.admit(rule, '10.0.0.1'), { kind: 'refused', reason: 'connections' });
  assert.equal(limiter.admit(rule, '10.0.0.2').kind, 'allowed');
  assert.ok(first.kind === 'allowed' && first.connectionKey !== undefined);
  limiter.release(first.connectionKey);
  assert.equal(limiter.admit(rule, '10.0.0.1').kind, 'allowed');
  assert.ok(second.kind === 'allowed');

  const ranges = parseSourceRanges('10.1.0.0/16');
  assert.ok(ranges.ok);
  const exempt = limits({ connections: 1, rps: 1, burstMultiplier: 1, exempt: ranges.value });
  assert.equal(admitted(limiter, exempt, '10.1.2.3', 50), 50);
});

test('a flood of distinct addresses never holds more than maxClients entries', () => {
  const time = clock();
  const limiter = new RequestLimiter({ maxClients: 1_000, now: time.now });
  const rule = limits({ rps: 1 });
  for (let index = 0; index < 20_000; index++) {
    limiter.admit(rule, `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`);
    assert.ok(limiter.trackedClients <= 1_000);
  }
  assert.equal(limiter.trackedClients, 1_000);
  // Drained entries make room for newcomers without touching busy ones.
  time.advance(60_000);
  limiter.admit(rule, '192.168.0.1');
  limiter.admit(rule, '192.168.0.2');
  assert.ok(limiter.trackedClients < 1_000, `idle entries dropped: ${limiter.trackedClients}`);
});
