// SecureContexts by certificate content. Building one parses the chain and key again inside
// OpenSSL, so contexts are made once per distinct content and reused across table builds; a
// Secret whose content changes gets a new fingerprint, hence a new context, and the old one
// is dropped from the cache once no table names it. Handshakes already under way keep the
// context object they were given: connections are never touched by a swap.

import type { SecureContext } from 'node:tls';
import type { ParsedCertificate } from './parse-tls-secret.ts';
import { createPolicyContext } from './tls-settings.ts';

export class SecureContextCache {
  readonly #contexts = new Map<string, SecureContext>();

  /** The context for this certificate; throws (OpenSSL's error) when the chain or key is refused. */
  get(certificate: ParsedCertificate): SecureContext {
    let context = this.#contexts.get(certificate.fingerprint);
    if (context === undefined) {
      context = createPolicyContext(certificate);
      this.#contexts.set(certificate.fingerprint, context);
    }
    return context;
  }

  /** Forgets every context whose fingerprint is not in `fingerprints`. */
  retain(fingerprints: ReadonlySet<string>): void {
    for (const fingerprint of this.#contexts.keys()) {
      if (!fingerprints.has(fingerprint)) this.#contexts.delete(fingerprint);
    }
  }

  get size(): number {
    return this.#contexts.size;
  }
}
