// The TLS parameters of the HTTPS listener, in one place. Versions and ciphers follow
// Mozilla's "intermediate" server configuration (TLS 1.2 and 1.3; for 1.2 only ECDHE key
// exchange with AEAD ciphers; TLS 1.3 suites are OpenSSL's defaults, all AEAD); every
// SecureContext, the SNI ones included, is made with them, so SNI never changes the policy.

import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2';
export const TLS_MAX_VERSION = 'TLSv1.3';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

/** Options every context of the HTTPS listener shares. */
export const TLS_POLICY = Object.freeze({
  minVersion: TLS_MIN_VERSION,
  maxVersion: TLS_MAX_VERSION,
  ciphers: TLS12_CIPHERS,
  ecdhCurve: ECDH_CURVES,
  // With only strong suites on the list, the client's order may pick (ChaCha20 on phones without AES instructions).
  honorCipherOrder: false,
} satisfies SecureContextOptions);

export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A context for one certificate chain and key under the listener's policy; throws when OpenSSL refuses them. */
export function createPolicyContext(pair: KeyPair): SecureContext {
  return createSecureContext({ ...TLS_POLICY, cert: pair.certPem, key: pair.keyPem });
}
