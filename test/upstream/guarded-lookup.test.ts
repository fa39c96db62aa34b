// ExternalName resolution refuses loopback and link-local answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConnectLookup,
  createGuardedLookup,
  isLoopbackOrLinkLocal,
  resolveGuarded,
} from '../../src/upstream/guarded-lookup.ts';

function fixedLookup(addresses: readonly string[]): ConnectLookup {
  return (_hostname, _options, callback) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
}

describe('isLoopbackOrLinkLocal', () => {
  test('classifies addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '0.0.0.0',
      '169.254.169.254',
      '::1',
      '::',
      'fe80::1',
      '::ffff:127.0.0.1',
    ])
      assert.equal(isLoopbackOrLinkLocal(address), true, address);
    for (const address of ['10.0.0.1', '192.0.2.10', '8.8.8.8', 'fd00::1', '2001:db8::1', 'not-an-ip'])
      assert.equal(isLoopbackOrLinkLocal(address), false, address);
  });
});

describe('createGuardedLookup', () => {
  test('drops forbidden answers and keeps the rest, in both callback shapes', async () => {
    const lookup = createGuardedLookup({ lookup: fixedLookup(['127.0.0.1', '192.0.2.10', 'fe80::2', '2001:db8::5']) });
    const all = await new Promise<unknown>((resolve, reject) =>
      lookup('svc.example', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );
    assert.deepEqual(all, [
      { address: '192.0.2.10', family: 4 },
      { address: '2001:db8::5', family: 6 },
    ]);
    assert.equal(await resolveGuarded(lookup, 'svc.example'), '192.0.2.10');
  });

  test('fails with PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN when only forbidden answers are left', async () => {
    const lookup = createGuardedLookup({ lookup: fixedLookup(['127.0.0.1', '169.254.169.254']) });
    await assert.rejects(resolveGuarded(lookup, 'sneaky.example'), { code: 'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN' });
  });

  test('the real resolver: localhost is refused', async () => {
    await assert.rejects(resolveGuarded(createGuardedLookup(), 'localhost'), {
      code: 'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN',
    });
  });

  test('resolver errors pass through', async () => {
    const failing: ConnectLookup = (_hostname, _options, callback) =>
      callback(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }), []);
    await assert.rejects(resolveGuarded(createGuardedLookup({ lookup: failing }), 'missing.example'), {
      code: 'ENOTFOUND',
    });
  });
});
