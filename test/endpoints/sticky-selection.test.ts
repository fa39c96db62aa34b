// Consistent placement: rendezvous hashing (upstream-hash-by, balanced sessions, ClientIP) and
// persistent affinity cookies, as pure functions of the endpoint list and the key.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  isBalancedSessionKey,
  newBalancedSessionKey,
  persistentCookieEndpoint,
  persistentCookieValue,
} from '../../src/endpoints/cookie-affinity.ts';
import { hashKey, rendezvousPick } from '../../src/endpoints/rendezvous-hash.ts';
import { type Endpoint, endpointId } from '../../src/endpoints/service-endpoints.ts';

function endpoint(address: string): Endpoint {
  return { address, port: 8080, id: endpointId(address, 8080), ready: true, serving: true, terminating: false };
}

function endpoints(count: number, offset = 1): Endpoint[] {
  return Array.from({ length: count }, (_, index) => endpoint(`10.1.0.${index + offset}`));
}

function placements(list: readonly Endpoint[], keys: number): string[] {
  return Array.from({ length: keys }, (_, key) => rendezvousPick(list, hashKey(`user-${key}`), undefined)?.id ?? '');
}

describe('rendezvous hashing', () => {
  test('spreads keys evenly over the endpoints', () => {
    const counts = new Map<string, number>();
    for (const id of placements(endpoints(4), 40_000)) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.equal(counts.size, 4);
    // Each share within 1.25 points of a quarter (the binomial sd is about 0.2 points).
    for (const [id, count] of counts) assert.ok(Math.abs(count / 40_000 - 0.25) < 0.0125, `${id} got ${count}`);
  });

  test('the same key always reaches the same endpoint', () => {
    const list = endpoints(5);
    assert.deepEqual(placements(list, 500), placements(list, 500));
    assert.deepEqual(placements(list, 500), placements([...list], 500), 'a new list with the same endpoints');
  });

  test('removing an endpoint moves only the keys it held', () => {
    const before = placements(endpoints(5), 5_000);
    const after = placements(
      endpoints(5).filter((entry) => entry.address !== '10.1.0.3'),
      5_000,
    );
    let moved = 0;
    before.forEach((id, key) => {
      if (id === '10.1.0.3:8080') moved++;
      else assert.equal(after[key], id, `key ${key} moved needlessly`);
    });
    assert.ok(moved > 0);
  });

  test('adding an endpoint moves only keys to it, about 1/n of them', () => {
    const before = placements(endpoints(4), 8_000);
    const after = placements(endpoints(5), 8_000);
    let moved = 0;
    before.forEach((id, key) => {
      if (after[key] === id) return;
      moved++;
      assert.equal(after[key], '10.1.0.5:8080', 'a key that moved went to the new endpoint');
    });
    assert.ok(moved / 8_000 > 0.15 && moved / 8_000 < 0.25, `moved ${moved}`);
  });

  test('a retry gets the key next-best endpoint; an empty list gets none', () => {
    const list = endpoints(3);
    const first = rendezvousPick(list, hashKey('k'), undefined);
    const second = rendezvousPick(list, hashKey('k'), first?.id);
    assert.ok(second && second !== first);
    const without = rendezvousPick(
      list.filter((entry) => entry !== first),
      hashKey('k'),
      undefined,
    );
    assert.equal(second, without, 'the same endpoint the key would move to if the first left');
    assert.equal(rendezvousPick([], hashKey('k'), undefined), undefined);
  });
});

describe('persistent affinity cookies', () => {
  const secret = '3f6c2a1e-9d1b-4c55-8e0a-4b7f2d9c1a10';

  test('values name endpoints without showing their address, and differ per secret', () => {
    const list = endpoints(3);
    const values = list.map((entry) => persistentCookieValue(list, secret, entry));
    assert.equal(new Set(values).size, 3);
    for (const [index, value] of values.entries()) {
      assert.match(value, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(!value.includes('10.1') && !value.includes('8080'));
      assert.equal(persistentCookieEndpoint(list, secret, value), list[index]);
    }
    assert.notEqual(persistentCookieValue(list, 'another-service-uid', list[0] as Endpoint), values[0]);
    assert.equal(persistentCookieEndpoint(list, 'another-service-uid', values[0]), undefined);
  });

  test('a value survives unrelated endpoint changes and stops matching when its endpoint leaves', () => {
    const list = endpoints(3);
    const value = persistentCookieValue(list, secret, list[1] as Endpoint);
    const grown = [...endpoints(3), endpoint('10.1.0.9')];
    assert.equal(persistentCookieEndpoint(grown, secret, value)?.id, '10.1.0.2:8080');
    const shrunk = endpoints(3).filter((entry) => entry.address !== '10.1.0.3');
    assert.equal(persistentCookieEndpoint(shrunk, secret, value)?.id, '10.1.0.2:8080');
    const gone = endpoints(3).filter((entry) => entry.address !== '10.1.0.2');
    assert.equal(persistentCookieEndpoint(gone, secret, value), undefined);
  });

  test('garbage and absent cookies name nothing', () => {
    const list = endpoints(2);
    for (const value of [undefined, '', '10.1.0.1:8080', 'x'.repeat(22), 'x'.repeat(400)])
      assert.equal(persistentCookieEndpoint(list, secret, value), undefined);
  });
});

describe('balanced session keys', () => {
  test('new keys are random, 22 base64url characters, and recognised', () => {
    const keys = Array.from({ length: 50 }, () => newBalancedSessionKey(randomBytes));
    assert.equal(new Set(keys).size, 50);
    for (const key of keys) assert.ok(isBalancedSessionKey(key), key);
    for (const bad of [undefined, '', 'short', 'a'.repeat(21), `${'a'.repeat(21)};`, 'a'.repeat(23)])
      assert.equal(isBalancedSessionKey(bad), false, String(bad));
  });
});
