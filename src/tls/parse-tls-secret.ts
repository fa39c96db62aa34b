// A `kubernetes.io/tls` Secret → its certificate chain and key, checked the way a TLS server
// would need them: `tls.crt` holds the leaf first and then any intermediates (the Kubernetes
// TLS Secret docs), `tls.key` the leaf's private key. Pure: parsing with node:crypto does no
// I/O. Results are memoized per record object: records are frozen and replaced on change, so
// an unchanged Secret is parsed once however many tables are built.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { SecretRecord } from '../model/records.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_PRIVATE_KEY_KEY = 'tls.key';

export interface ParsedCertificate {
  /** `ns/name` of the Secret */
  readonly secretKey: string;
  /** the whole `tls.crt`: leaf first, then intermediates */
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 over certificate and key: equal content, equal fingerprint (the SecureContext cache key) */
  readonly fingerprint: string;
  /** the leaf's validity window, epoch milliseconds */
  readonly notBefore: number;
  readonly notAfter: number;
  /** the leaf, for host checks */
  readonly leaf: X509Certificate;
}

export type ParsedTlsSecret =
  { readonly ok: true; readonly certificate: ParsedCertificate } | { readonly ok: false; readonly reason: string };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

const parsed = new WeakMap<SecretRecord, ParsedTlsSecret>();

export function parseTlsSecret(secret: SecretRecord): ParsedTlsSecret {
  let result = parsed.get(secret);
  if (result === undefined) {
    result = parseUncached(secret);
    parsed.set(secret, result);
  }
  return result;
}

function fail(reason: string): ParsedTlsSecret {
  return { ok: false, reason };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseUncached(secret: SecretRecord): ParsedTlsSecret {
  // Cluster mode only ever sees kubernetes.io/tls Secrets (field selector); manifests are held to the same rule.
  if (secret.type !== TLS_SECRET_TYPE) return fail(`is of type ${secret.type}, not ${TLS_SECRET_TYPE}`);
  const certPem = secret.data[TLS_CERT_KEY];
  const keyPem = secret.data[TLS_PRIVATE_KEY_KEY];
  if (!certPem?.trim()) return fail(`has no ${TLS_CERT_KEY}`);
  if (!keyPem?.trim()) return fail(`has no ${TLS_PRIVATE_KEY_KEY}`);
  const blocks = certPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return fail(`${TLS_CERT_KEY} holds no PEM certificate`);
  const chain: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      chain.push(new X509Certificate(block));
    } catch (error) {
      return fail(`${TLS_CERT_KEY} certificate ${index + 1} of ${blocks.length} is not valid (${messageOf(error)})`);
    }
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    return fail(`${TLS_PRIVATE_KEY_KEY} is not a usable PEM private key (${messageOf(error)})`);
  }
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key))
    return fail(`${TLS_PRIVATE_KEY_KEY} does not match the certificate in ${TLS_CERT_KEY}`);
  const fingerprint = createHash('sha256').update(certPem).update('\u0000').update(keyPem).digest('hex');
  return {
    ok: true,
    certificate: Object.freeze({
      secretKey: secret.key,
      certPem,
      keyPem,
      fingerprint,
      notBefore: leaf.validFromDate.getTime(),
      notAfter: leaf.validToDate.getTime(),
      leaf,
    }),
  };
}

/**
 * Whether the certificate is valid for a TLS host of an Ingress: exact hosts by the usual
 * rules (RFC 6125: DNS SANs, wildcards one label deep); a wildcard host `*.foo.com` only by a
 * certificate that names `*.foo.com` itself, as that is what the host promises to cover.
 */
export function certificateCoversHost(certificate: ParsedCertificate, host: string): boolean {
  if (host.startsWith('*.')) {
    const names = (certificate.leaf.subjectAltName ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.startsWith('DNS:'))
      .map((name) => name.slice(4).toLowerCase());
    return names.includes(host);
  }
  return certificate.leaf.checkHost(host) !== undefined;
}
