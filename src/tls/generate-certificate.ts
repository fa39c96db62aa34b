// X.509 certificates made in-process: the default certificate Portico serves when no Secret
// applies (generated at start, never written to disk), the demo's TLS Secret, and the tests'
// certificates. pkijs (PeculiarVentures, pure JavaScript over the platform's WebCrypto): no
// openssl binary to find at run time, no native addon, and unlike @peculiar/x509 and
// `selfsigned` (built on it) no global `Reflect` polyfill to install in the proxy process.
// Keys are ECDSA P-256 (RFC 5480): fast to make and accepted by every current TLS client.

import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export interface GeneratedCertificate {
  /** PEM of the certificate (one block) */
  readonly certPem: string;
  /** PKCS#8 PEM of its private key */
  readonly keyPem: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  /** subjectAltName DNS entries (`*.example.com` allowed) */
  readonly dnsNames?: readonly string[];
  /** default: one minute ago (clock skew between machines) */
  readonly notBefore?: Date;
  /** default: one year after notBefore */
  readonly notAfter?: Date;
  /** a CA certificate (may sign others) */
  readonly isCa?: boolean;
  /** signs the new certificate; default: self-signed */
  readonly issuer?: GeneratedCertificate;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const GENERAL_NAME_DNS = 2;
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

function distinguishedName(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new asn1js.Utf8String({ value: commonName }) }),
    ],
  });
}

function extension(extnID: string, critical: boolean, value: { toSchema(): asn1js.AsnType }): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toSchema().toBER(false) });
}

/** KeyUsage bits (RFC 5280 section 4.2.1.3), first octet: digitalSignature=0x80, keyCertSign=0x04, cRLSign=0x02. */
function keyUsage(isCa: boolean): pkijs.Extension {
  const bits = new Uint8Array([isCa ? 0x86 : 0x80]);
  return new pkijs.Extension({
    extnID: OID_KEY_USAGE,
    critical: true,
    extnValue: new asn1js.BitString({ valueHex: bits, unusedBits: isCa ? 1 : 7 }).toBER(false),
  });
}

async function importPrivateKey(keyPem: string): Promise<CryptoKey> {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return crypto.subtle.importKey('pkcs8', der, ECDSA_P256, false, ['sign']);
}

/** A new key pair and a certificate for it, self-signed or signed by `issuer`. */
export async function generateCertificate(request: CertificateRequest): Promise<GeneratedCertificate> {
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const notBefore = request.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = request.notAfter ?? new Date(notBefore.getTime() + YEAR_MS);
  const isCa = request.isCa ?? false;

  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  const serial = randomBytes(16);
  // A positive INTEGER (RFC 5280 section 4.1.2.2) in minimal DER: high bit clear, first octet
  // never zero (a leading 0x00 before a byte below 0x80 is not valid DER; OpenSSL refuses it).
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  certificate.serialNumber = new asn1js.Integer({ valueHex: serial });
  certificate.subject = distinguishedName(request.commonName);
  // The issuer field must equal the issuer's subject byte for byte (RFC 5280 section 4.1.2.4).
  certificate.issuer = request.issuer
    ? pkijs.Certificate.fromBER(new X509Certificate(request.issuer.certPem).raw).subject
    : distinguishedName(request.commonName);
  certificate.notBefore.value = notBefore;
  certificate.notAfter.value = notAfter;
  const extensions = [extension(OID_BASIC_CONSTRAINTS, true, new pkijs.BasicConstraints({ cA: isCa })), keyUsage(isCa)];
  if (!isCa)
    extensions.push(extension(OID_EXT_KEY_USAGE, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID_SERVER_AUTH] })));
  const dnsNames = request.dnsNames ?? [];
  if (dnsNames.length > 0) {
    const altNames = new pkijs.AltName({
      altNames: dnsNames.map((value) => new pkijs.GeneralName({ type: GENERAL_NAME_DNS, value })),
    });
    extensions.push(extension(OID_SUBJECT_ALT_NAME, false, altNames));
  }
  certificate.extensions = extensions;
  await certificate.subjectPublicKeyInfo.importKey(keys.publicKey);
  const signingKey = request.issuer ? await importPrivateKey(request.issuer.keyPem) : keys.privateKey;
  await certificate.sign(signingKey, 'SHA-256');

  const der = Buffer.from(certificate.toSchema(true).toBER(false));
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: new X509Certificate(der).toString(),
    keyPem: String(
      createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }),
    ),
  };
}
