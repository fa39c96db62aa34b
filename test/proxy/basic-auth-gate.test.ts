// The gate's verification cache: bcrypt runs once per (Secret generation, Authorization value),
// failures are never remembered, a new generation starts afresh, and the map stays bounded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BcryptOutcome } from '../../src/auth/bcrypt-verifier.ts';
import { type Credentials, parseHtpasswd } from '../../src/auth/htpasswd.ts';
import { BasicAuthGate, MAX_CACHED_LOGINS, type PasswordVerifier } from '../../src/proxy/basic-auth-gate.ts';
import type { RouteAuth } from '../../src/routing/route-table.ts';

const HASH = '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

/** Says 'match' for password "right", counting calls. */
class CountingVerifier implements PasswordVerifier {
  calls = 0;
  answer: BcryptOutcome | undefined;
  verify(password: string): Promise<BcryptOutcome> {
    this.calls++;
    return Promise.resolve(this.answer ?? (password === 'right' ? 'match' : 'mismatch'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function routeAuth(credentials: Credentials): RouteAuth {
  return { kind: 'basic', realm: 'r', secretKey: 'default/s', credentials };
}

function header(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('BasicAuthGate', () => {
  it('verifies a bcrypt login once per Secret generation; failures are checked every time', async () => {
    const verifier = new CountingVerifier();
    const gate = new BasicAuthGate(verifier);
    const generation1 = routeAuth(parseHtpasswd(`carol:${HASH}`).credentials);
    assert.equal(await gate.check(generation1, header('carol', 'right')), 'pass');
    assert.equal(gate.check(generation1, header('carol', 'right')), 'pass', 'answered from the cache, synchronously');
    assert.equal(verifier.calls, 1);
    assert.equal(await gate.check(generation1, header('carol', 'wrong')), 'challenge');
    assert.equal(await gate.check(generation1, header('carol', 'wrong')), 'challenge');
    assert.equal(verifier.calls, 3);
    const generation2 = routeAuth(parseHtpasswd(`carol:${HASH}`).credentials);
    assert.equal(await gate.check(generation2, header('carol', 'right')), 'pass');
    assert.equal(verifier.calls, 4, 'a new Secret generation verifies again');
  });

  it('passes busy through, and remembers at most MAX_CACHED_LOGINS logins per generation', async () => {
    const verifier = new CountingVerifier();
    const gate = new BasicAuthGate(verifier);
    const users = Array.from({ length: MAX_CACHED_LOGINS + 1 }, (_, index) => `u${index}:${HASH}`);
    const auth = routeAuth(parseHtpasswd(users.join('\n')).credentials);
    verifier.answer = 'busy';
    assert.equal(await gate.check(auth, header('u0', 'right')), 'busy');
    verifier.answer = undefined;
    for (let index = 0; index <= MAX_CACHED_LOGINS; index++) await gate.check(auth, header(`u${index}`, 'right'));
    const before = verifier.calls;
    await gate.check(auth, header(`u${MAX_CACHED_LOGINS}`, 'right'));
    assert.equal(verifier.calls, before, 'the newest login is still remembered');
    await gate.check(auth, header('u0', 'right'));
    assert.equal(verifier.calls, before + 1, 'the oldest was dropped');
  });

  it('answers unavailable for a route whose authentication could not be set up', () => {
    const gate = new BasicAuthGate(new CountingVerifier());
    assert.equal(gate.check({ kind: 'unavailable', reason: 'x' }, header('a', 'b')), 'unavailable');
  });
});
