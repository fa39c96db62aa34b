// The PKI of a throwaway control plane, made with the openssl CLI so the harness
// needs no crypto library: one CA that signs the API server's serving
// certificate and the admin's client certificate, plus the service-account
// token signing key pair.
//
// ECDSA P-256 throughout: generated in milliseconds, and accepted by Kubernetes
// for serving, client and service-account keys (ES256 tokens).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './run-command.ts';

export interface ControlPlaneCertificates {
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  /** Client certificate with O=system:masters: every request is allowed. */
  readonly adminCertPath: string;
  readonly adminKeyPath: string;
  /** Signs bound service-account tokens (--service-account-signing-key-file). */
  readonly serviceAccountKeyPath: string;
  /** Verifies them (--service-account-key-file). */
  readonly serviceAccountPublicKeyPath: string;
}

const VALIDITY_DAYS = '7';
const CURVE = 'prime256v1';

// Our own config, so the system openssl.cnf cannot add or duplicate extensions.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @serving_names
authorityKeyIdentifier = keyid
[serving_names]
IP.1 = 127.0.0.1
DNS.1 = localhost
# The in-cluster names of the API server (the "kubernetes" Service takes the
# first address of --service-cluster-ip-range), for clients that use them.
IP.2 = 10.0.0.1
DNS.2 = kubernetes
DNS.3 = kubernetes.default
DNS.4 = kubernetes.default.svc
DNS.5 = kubernetes.default.svc.cluster.local
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

function openssl(args: readonly string[]): Promise<unknown> {
  return runCommand('openssl', args);
}

function serial(): string {
  return `0x${randomBytes(16).toString('hex')}`;
}

async function signLeaf(
  directory: string,
  configPath: string,
  name: string,
  subject: string,
  extensions: 'serving' | 'client',
): Promise<{ certPath: string; keyPath: string }> {
  const keyPath = join(directory, `${name}.key`);
  const csrPath = join(directory, `${name}.csr`);
  const certPath = join(directory, `${name}.crt`);
  await openssl([
    'req',
    '-new',
    '-config',
    configPath,
    '-newkey',
    'ec',
    '-pkeyopt',
    `ec_paramgen_curve:${CURVE}`,
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    csrPath,
    '-subj',
    subject,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    join(directory, 'ca.crt'),
    '-CAkey',
    join(directory, 'ca.key'),
    '-set_serial',
    serial(),
    '-days',
    VALIDITY_DAYS,
    '-extfile',
    configPath,
    '-extensions',
    extensions,
    '-out',
    certPath,
  ]);
  return { certPath, keyPath };
}

export async function generateControlPlaneCertificates(directory: string): Promise<ControlPlaneCertificates> {
  const configPath = join(directory, 'openssl.cnf');
  await writeFile(configPath, OPENSSL_CONFIG);

  const caKeyPath = join(directory, 'ca.key');
  const caCertPath = join(directory, 'ca.crt');
  await openssl([
    'req',
    '-x509',
    '-config',
    configPath,
    '-extensions',
    'ca',
    '-newkey',
    'ec',
    '-pkeyopt',
    `ec_paramgen_curve:${CURVE}`,
    '-nodes',
    '-keyout',
    caKeyPath,
    '-out',
    caCertPath,
    '-days',
    VALIDITY_DAYS,
    '-set_serial',
    serial(),
    '-subj',
    '/CN=portico-e2e-ca',
  ]);

  const serviceAccountKeyPath = join(directory, 'service-account.key');
  const serviceAccountPublicKeyPath = join(directory, 'service-account.pub');
  const [serving, admin] = await Promise.all([
    signLeaf(directory, configPath, 'apiserver', '/CN=kube-apiserver', 'serving'),
    signLeaf(directory, configPath, 'admin', '/O=system:masters/CN=portico-e2e-admin', 'client'),
    (async () => {
      await openssl([
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        `ec_paramgen_curve:${CURVE}`,
        '-out',
        serviceAccountKeyPath,
      ]);
      await openssl(['pkey', '-in', serviceAccountKeyPath, '-pubout', '-out', serviceAccountPublicKeyPath]);
    })(),
  ]);

  return {
    caCertPath,
    caKeyPath,
    servingCertPath: serving.certPath,
    servingKeyPath: serving.keyPath,
    adminCertPath: admin.certPath,
    adminKeyPath: admin.keyPath,
    serviceAccountKeyPath,
    serviceAccountPublicKeyPath,
  };
}
