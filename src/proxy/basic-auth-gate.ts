// The request side of `auth-type: basic`: Authorization header → pass, challenge (401), or
// 503. Fast schemes are checked inline; bcrypt goes to the bounded verifier thread. Successful
// checks are remembered per (Secret generation, header value) in a small map per generation,
// so a keep-alive client pays for bcrypt once, not per request; failures are never cached. The
// map is keyed by a SHA-256 of the header, so no password is kept in memory in clear.

import { createHash } from 'node:crypto';
import { BcryptVerifier } from '../auth/bcrypt-verifier.ts';
import { type Credentials, parseBasicAuthorization, verifyFast } from '../auth/htpasswd.ts';
import type { RouteAuth } from '../routing/route-table.ts';

export type AuthVerdict = 'pass' | 'challenge' | 'unavailable' | 'busy';

/** Remembered successes per Secret generation; the oldest is dropped past this. */
export const MAX_CACHED_LOGINS = 256;

/** What the gate needs of the bcrypt verifier (tests count its calls). */
export type PasswordVerifier = Pick<BcryptVerifier, 'verify' | 'close'>;

export class BasicAuthGate {
  readonly #verifier: PasswordVerifier;
  readonly #passed = new WeakMap<Credentials, Map<string, true>>();

  constructor(verifier: PasswordVerifier = new BcryptVerifier()) {
    this.#verifier = verifier;
  }

  /** A verdict, or a promise of one when bcrypt has to run. */
  check(auth: RouteAuth, authorization: string | undefined): AuthVerdict | Promise<AuthVerdict> {
    if (auth.kind === 'unavailable') return 'unavailable';
    const login = parseBasicAuthorization(authorization);
    if (login === undefined) return 'challenge';
    const credential = auth.credentials.get(login.user);
    if (credential === undefined) return 'challenge';
    let passed = this.#passed.get(auth.credentials);
    const key = createHash('sha256')
      .update(authorization as string)
      .digest('base64');
    if (passed?.has(key)) {
      // Most recently used last, so the oldest is the one dropped.
      passed.delete(key);
      passed.set(key, true);
      return 'pass';
    }
    const remember = (): 'pass' => {
      passed ??= this.#passed.get(auth.credentials);
      if (!passed) {
        passed = new Map();
        this.#passed.set(auth.credentials, passed);
      }
      passed.set(key, true);
      if (passed.size > MAX_CACHED_LOGINS) passed.delete(passed.keys().next().value as string);
      return 'pass';
    };
    const fast = verifyFast(credential, login.password);
    if (fast !== undefined) return fast ? remember() : 'challenge';
    return this.#verifier.verify(login.password, credential.hash).then((outcome) => {
      if (outcome === 'match') return remember();
      return outcome === 'busy' ? 'busy' : 'challenge';
    });
  }

  close(): Promise<void> {
    return this.#verifier.close();
  }
}

/** `WWW-Authenticate` for a 401 (RFC 7617 section 2; the realm grammar excludes quotes). */
export function basicChallenge(auth: RouteAuth): string {
  return `Basic realm="${auth.kind === 'basic' ? auth.realm : ''}", charset="UTF-8"`;
}
