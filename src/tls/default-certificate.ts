// The certificate served when neither an Ingress's Secret nor --default-ssl-certificate
// applies: made fresh at every start, kept in memory only. Like ingress-nginx's "Fake
// Certificate" it is self-signed and names a host nobody has (RFC 2606 `.invalid`), so no
// client mistakes it for a real one; it exists so HTTPS answers at all.

import { X509Certificate } from 'node:crypto';
import { type GeneratedCertificate, generateCertificate } from './generate-certificate.ts';

export const DEFAULT_CERTIFICATE_NAME = 'Portico Default Certificate';
const DEFAULT_CERTIFICATE_HOST = 'portico-default.invalid';

export interface DefaultCertificate extends GeneratedCertificate {
  /** SHA-256 fingerprint, AA:BB:... */
  readonly fingerprint256: string;
  readonly notAfter: string;
}

export async function generateDefaultCertificate(): Promise<DefaultCertificate> {
  const pair = await generateCertificate({
    commonName: DEFAULT_CERTIFICATE_NAME,
    dnsNames: [DEFAULT_CERTIFICATE_HOST],
  });
  const certificate = new X509Certificate(pair.certPem);
  return { ...pair, fingerprint256: certificate.fingerprint256, notAfter: certificate.validToDate.toISOString() };
}
