// htpasswd parsing and hash checks against vectors made outside Portico:
//   apr1:   printf pw | openssl passwd -apr1 -salt Xy7s9QqZ -stdin
//   {SHA}:  printf s3cret | openssl dgst -sha1 -binary | base64
//   bcrypt: the OpenBSD test vector "U*U" at cost 5 (the same digest under $2a$, $2b$, $2y$)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BcryptVerifier } from '../../src/auth/bcrypt-verifier.ts';
import {
  classifyHash,
  parseAuthMap,
  parseBasicAuthorization,
  parseHtpasswd,
  verifyFast,
} from '../../src/auth/htpasswd.ts';

const APR1 = '$apr1$Xy7s9QqZ$u5FHivKLm2VO5bldR.Yhd/';
const SHA1 = '{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=';
const BCRYPT_DIGEST = '05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

const FAST_CASES = [
  { scheme: 'apr1', hash: APR1, right: 'pw', wrong: ['pW', 'pw ', ''] },
  { scheme: 'sha1', hash: SHA1, right: 's3cret', wrong: ['s3cre', 'S3cret', ''] },
  { scheme: 'plain', hash: '{PLAIN}open sesame', right: 'open sesame', wrong: ['open', 'open sesame!'] },
] as const;

describe('fast hash schemes', () => {
  for (const { scheme, hash, right, wrong } of FAST_CASES) {
    it(`${scheme}: the right password passes, wrong ones do not`, () => {
      const classified = classifyHash(hash);
      assert.ok(classified.ok);
      assert.equal(classified.credential.scheme, scheme);
      assert.equal(verifyFast(classified.credential, right), true);
      for (const password of wrong) assert.equal(verifyFast(classified.credential, password), false, password);
    });
  }
});

describe('bcrypt through the verifier thread', () => {
  it('$2a$, $2b$ and $2y$ accept the right password and refuse wrong ones', async () => {
    const verifier = new BcryptVerifier();
    try {
      for (const prefix of ['$2a$', '$2b$', '$2y$']) {
        const hash = prefix + BCRYPT_DIGEST;
        const classified = classifyHash(hash);
        assert.ok(classified.ok && classified.credential.scheme === 'bcrypt', prefix);
        assert.equal(verifyFast(classified.credential, 'U*U'), undefined, 'bcrypt is never checked inline');
        assert.equal(await verifier.verify('U*U', hash), 'match', prefix);
        assert.equal(await verifier.verify('U*V', hash), 'mismatch', prefix);
      }
    } finally {
      await verifier.close();
    }
  });

  it('answers busy at once past its queue bound, and the queued checks still complete', async () => {
    const verifier = new BcryptVerifier({ maxQueued: 2 });
    try {
      const hash = `$2b$${BCRYPT_DIGEST}`;
      const first = verifier.verify('U*U', hash);
      const second = verifier.verify('nope', hash);
      assert.equal(await verifier.verify('U*U', hash), 'busy');
      assert.deepEqual(await Promise.all([first, second]), ['match', 'mismatch']);
      assert.equal(verifier.queued, 0);
    } finally {
      await verifier.close();
    }
  });
});

describe('htpasswd files', () => {
  it('reads every scheme, skips comments and blank lines, and tolerates CRLF', () => {
    const parsed = parseHtpasswd(
      ['# users', '', `alice:${APR1}`, `bob:${SHA1}\r`, `carol:$2y$${BCRYPT_DIGEST}`, 'dave:{PLAIN}x', ''].join('\n'),
    );
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(
      [...parsed.credentials].map(([user, credential]) => [user, credential.scheme]),
      [
        ['alice', 'apr1'],
        ['bob', 'sha1'],
        ['carol', 'bcrypt'],
        ['dave', 'plain'],
      ],
    );
  });

  it('names the line of an unknown scheme or a malformed line, never its content', () => {
    const parsed = parseHtpasswd(
      [
        `alice:${APR1}`,
        'bob:abJnggxhB/yWI', // DES crypt
        'carol:$6$salt$secrethashvalue',
        'no colon here',
        `alice:${SHA1}`,
        `dave:$2b$31$${BCRYPT_DIGEST.slice(3)}`,
      ].join('\n'),
    );
    assert.deepEqual([...parsed.credentials.keys()], ['alice']);
    assert.equal(parsed.problems.length, 5);
    for (const [index, line] of [2, 3, 4, 5, 6].entries()) {
      assert.match(parsed.problems[index] as string, new RegExp(`^line ${line} `));
    }
    for (const problem of parsed.problems) {
      assert.doesNotMatch(problem, /abJnggxhB|secrethash|no colon|bob|carol/);
    }
    assert.match(parsed.problems[4] as string, /bcrypt cost of 31/);
  });

  it('auth-map: each key is a user, each value a hash', () => {
    const parsed = parseAuthMap({ alice: APR1, bob: `${SHA1}\n`, 'bad:user': SHA1, eve: 'plaintext' });
    assert.deepEqual([...parsed.credentials.keys()], ['alice', 'bob']);
    assert.equal(parsed.problems.length, 2);
  });
});

describe('Authorization header', () => {
  const encode = (text: string): string => Buffer.from(text).toString('base64');
  it('reads Basic credentials (RFC 7617), the password may hold colons', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${encode('alice:pa:ss')}`), { user: 'alice', password: 'pa:ss' });
    assert.deepEqual(parseBasicAuthorization(`basic ${encode('bob:')}`), { user: 'bob', password: '' });
  });
  for (const header of [undefined, 'Bearer abc', `Basic ${encode('no-colon')}`, `Basic ${encode(':pw')}`, 'Basic !!']) {
    it(`refuses ${JSON.stringify(header)}`, () => assert.equal(parseBasicAuthorization(header), undefined));
  }
});
