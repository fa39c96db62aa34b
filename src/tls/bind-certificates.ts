// The TLS step after compile: every TLS host of the table (spec.tls, oldest Ingress winning)
// gets the certificate of its Secret, or the default certificate when that Secret is missing
// or unusable. Problems are diagnostics on the Ingress that owns the host, so they reach the
// log, /metrics and Events exactly like compile's. No I/O; the clock is an argument.
//
// What sends a host to the default certificate, each with a diagnostic (ingress-nginx does the
// same for the first and the last; it serves expired certificates, Portico does not):
//   the Secret does not exist                            TlsSecretNotFound
//   wrong type, no tls.crt/tls.key, bad PEM, key that
//   does not match, or a chain OpenSSL refuses           InvalidTlsSecret
//   the certificate has expired / is not yet valid       TlsCertificateExpired / TlsCertificateNotYetValid
//   the certificate does not name the host               TlsHostMismatch
// A spec.tls entry without secretName uses the default certificate, silently (as ingress-nginx).

import type { SecureContext } from 'node:tls';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { SecretRecord } from '../model/records.ts';
import type { HostTls } from '../routing/route-table.ts';
import { certificateCoversHost, type ParsedCertificate, parseTlsSecret } from './parse-tls-secret.ts';
import type { SecureContextCache } from './secure-context-cache.ts';

export interface BoundCertificate {
  readonly certificate: ParsedCertificate;
  readonly context: SecureContext;
}

export interface TlsCertificates {
  /**
   * Every TLS host of the table (exact, or `*.suffix`) → its certificate; a host mapped to
   * undefined gets the default certificate (and does not fall through to a wildcard).
   */
  readonly hosts: ReadonlyMap<string, BoundCertificate | undefined>;
  /** the --default-ssl-certificate Secret, when set and usable */
  readonly defaultCertificate: BoundCertificate | undefined;
  /**
   * Epoch milliseconds of the next change in what this binding would decide by itself: the
   * earliest expiry of a certificate it serves, or the earliest start of one not valid yet.
   * The table should be rebuilt then, so the diagnostic (and the fallback) come on time.
   */
  readonly nextValidityChangeMs: number | undefined;
}

export interface BindOptions {
  /** epoch milliseconds the validity windows are checked against */
  readonly nowMs: number;
  /** `ns/name` of --default-ssl-certificate */
  readonly defaultCertificateSecret: string | undefined;
  readonly contexts: SecureContextCache;
}

export interface BindResult {
  readonly certificates: TlsCertificates;
  readonly diagnostics: readonly Diagnostic[];
}

type Checked =
  | { readonly ok: true; readonly bound: BoundCertificate }
  | { readonly ok: false; readonly code: string; readonly reason: string };

function describeDate(ms: number): string {
  return new Date(ms).toISOString();
}

function check(secret: SecretRecord | undefined, secretKey: string, options: BindOptions): Checked {
  if (secret === undefined)
    return { ok: false, code: 'TlsSecretNotFound', reason: `TLS Secret ${secretKey} does not exist` };
  const parsed = parseTlsSecret(secret);
  if (!parsed.ok) return { ok: false, code: 'InvalidTlsSecret', reason: `TLS Secret ${secretKey} ${parsed.reason}` };
  const certificate = parsed.certificate;
  if (certificate.notAfter <= options.nowMs) {
    return {
      ok: false,
      code: 'TlsCertificateExpired',
      reason: `the certificate in TLS Secret ${secretKey} expired at ${describeDate(certificate.notAfter)}`,
    };
  }
  if (certificate.notBefore > options.nowMs) {
    return {
      ok: false,
      code: 'TlsCertificateNotYetValid',
      reason: `the certificate in TLS Secret ${secretKey} is not valid before ${describeDate(certificate.notBefore)}`,
    };
  }
  try {
    return { ok: true, bound: Object.freeze({ certificate, context: options.contexts.get(certificate) }) };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ok: false, code: 'InvalidTlsSecret', reason: `TLS Secret ${secretKey} is refused by OpenSSL (${why})` };
  }
}

export function bindCertificates(
  tlsHosts: ReadonlyMap<string, HostTls>,
  secrets: ReadonlyMap<string, SecretRecord>,
  options: BindOptions,
): BindResult {
  const diagnostics: Diagnostic[] = [];
  const checked = new Map<string, Checked>();
  const checkOnce = (secretKey: string): Checked => {
    let result = checked.get(secretKey);
    if (result === undefined) {
      result = check(secrets.get(secretKey), secretKey, options);
      checked.set(secretKey, result);
    }
    return result;
  };

  // Hosts that fall back, grouped per Ingress and problem so one broken Secret is one diagnostic.
  const fallbacks = new Map<string, { object: string; code: string; reason: string; hosts: string[] }>();
  const fallBack = (ingress: string, code: string, reason: string, host: string): void => {
    const id = `${ingress}\u0000${code}\u0000${reason}`;
    const group = fallbacks.get(id);
    if (group) group.hosts.push(host);
    else fallbacks.set(id, { object: `Ingress ${ingress}`, code, reason, hosts: [host] });
  };

  const hosts = new Map<string, BoundCertificate | undefined>();
  for (const [host, tls] of tlsHosts) {
    if (tls.secretKey === undefined) {
      hosts.set(host, undefined);
      continue;
    }
    const result = checkOnce(tls.secretKey);
    if (!result.ok) {
      fallBack(tls.ingress, result.code, result.reason, host);
      hosts.set(host, undefined);
    } else if (!certificateCoversHost(result.bound.certificate, host)) {
      fallBack(tls.ingress, 'TlsHostMismatch', `the certificate in TLS Secret ${tls.secretKey} does not name`, host);
      hosts.set(host, undefined);
    } else {
      hosts.set(host, result.bound);
    }
  }
  for (const group of fallbacks.values()) {
    const list = group.hosts.join(', ');
    const reason =
      group.code === 'TlsHostMismatch'
        ? `${group.reason} ${list}; ${group.hosts.length === 1 ? 'it gets' : 'they get'} the default certificate`
        : `${group.reason}; ${group.hosts.length === 1 ? `host ${list} gets` : `hosts ${list} get`} the default certificate`;
    diagnostics.push({ object: group.object, code: group.code, reason });
  }

  let defaultCertificate: BoundCertificate | undefined;
  if (options.defaultCertificateSecret !== undefined) {
    const result = checkOnce(options.defaultCertificateSecret);
    if (result.ok) defaultCertificate = result.bound;
    else {
      diagnostics.push({
        object: `Secret ${options.defaultCertificateSecret}`,
        code: result.code,
        reason: `--default-ssl-certificate: ${result.reason}; the generated self-signed certificate is served instead`,
      });
    }
  }

  const fingerprints = new Set<string>();
  for (const bound of hosts.values()) if (bound) fingerprints.add(bound.certificate.fingerprint);
  if (defaultCertificate) fingerprints.add(defaultCertificate.certificate.fingerprint);
  options.contexts.retain(fingerprints);

  return {
    certificates: Object.freeze({
      hosts,
      defaultCertificate,
      nextValidityChangeMs: nextChange(checked, secrets, options),
    }),
    diagnostics,
  };
}

function nextChange(
  checked: ReadonlyMap<string, Checked>,
  secrets: ReadonlyMap<string, SecretRecord>,
  options: BindOptions,
): number | undefined {
  let next: number | undefined;
  const consider = (ms: number): void => {
    if (ms > options.nowMs && (next === undefined || ms < next)) next = ms;
  };
  for (const [secretKey, result] of checked) {
    if (result.ok) consider(result.bound.certificate.notAfter);
    else if (result.code === 'TlsCertificateNotYetValid') {
      const parsed = parseTlsSecret(secrets.get(secretKey) as SecretRecord);
      if (parsed.ok) consider(parsed.certificate.notBefore);
    }
  }
  return next;
}
