// The certificate presented per SNI name, with real TLS handshakes against the HTTPS listener:
// exact and wildcard TLS hosts, unknown and missing SNI (the default certificate), the
// --default-ssl-certificate Secret, SNI and Host that differ, and the protocol policy.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INGRESS_CLASS_YAML, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import {
  fingerprintOf,
  type GeneratedCertificate,
  generateCertificate,
  handshake,
  h2Requests,
  httpsGet,
  type RunningTlsProxy,
  startTlsProxy,
  testFallbackCertificate,
  tlsIngressYaml,
  tlsSecretYaml,
  TlsTestState,
} from './tls-harness.ts';

describe('certificate per SNI name', () => {
  let web: TestBackend;
  let other: TestBackend;
  let running: RunningTlsProxy;
  let state: TlsTestState;
  let exact: GeneratedCertificate;
  let wildcard: GeneratedCertificate;
  let fallbackDefault: GeneratedCertificate;
  let chosenDefault: GeneratedCertificate;
  let ca: GeneratedCertificate;
  let chained: GeneratedCertificate;

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    other = await startBackend('other', '127.0.0.3');
    [exact, wildcard, chosenDefault, ca, fallbackDefault] = await Promise.all([
      generateCertificate({ commonName: 'exact.test', dnsNames: ['exact.test'] }),
      generateCertificate({ commonName: 'wild.test wildcard', dnsNames: ['*.wild.test'] }),
      generateCertificate({ commonName: 'chosen default', dnsNames: ['default.invalid'] }),
      generateCertificate({ commonName: 'Test CA', isCa: true }),
      testFallbackCertificate(),
    ]);
    chained = await generateCertificate({ commonName: 'chain.test', dnsNames: ['chain.test'], issuer: ca });
    state = new TlsTestState(
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        serviceYaml('other'),
        sliceYaml('other', [{ ip: other.address, port: other.port }]),
        tlsSecretYaml('exact-tls', exact),
        tlsSecretYaml('wild-tls', wildcard),
        tlsSecretYaml('default-tls', chosenDefault, { namespace: 'portico' }),
        // tls.crt carries leaf and intermediate: clients get the whole chain.
        tlsSecretYaml('chain-tls', { certPem: chained.certPem + ca.certPem, keyPem: chained.keyPem }),
        tlsIngressYaml('exact', {
          hosts: ['exact.test'],
          tls: [{ hosts: ['exact.test'], secretName: 'exact-tls' }],
        }),
        tlsIngressYaml('wild', {
          hosts: ['*.wild.test', 'plain.test'],
          service: 'other',
          tls: [{ hosts: ['*.wild.test'], secretName: 'wild-tls' }],
        }),
        tlsIngressYaml('chain', { hosts: ['chain.test'], tls: [{ hosts: ['chain.test'], secretName: 'chain-tls' }] }),
        tlsIngressYaml('no-secret', { hosts: ['nosecret.test'], tls: [{ hosts: ['nosecret.test'] }] }),
      ),
      { defaultCertificateSecret: 'portico/default-tls' },
    );
    assert.deepEqual(state.codes(), []);
    running = await startTlsProxy(state);
  });

  after(async () => {
    await running.close();
    await Promise.all([web.close(), other.close()]);
  });

  test('an exact TLS host gets its Secret', async () => {
    const served = await handshake(running.httpsPort, 'exact.test');
    assert.equal(served.fingerprint256, fingerprintOf(exact.certPem));
  });

  test('SNI names are matched case-insensitively, a trailing dot dropped', async () => {
    assert.equal((await handshake(running.httpsPort, 'EXACT.Test')).fingerprint256, fingerprintOf(exact.certPem));
  });

  test('a one-label wildcard TLS host covers a.wild.test, not wild.test nor a.b.wild.test', async () => {
    assert.equal((await handshake(running.httpsPort, 'a.wild.test')).fingerprint256, fingerprintOf(wildcard.certPem));
    assert.equal((await handshake(running.httpsPort, 'wild.test')).commonName, 'chosen default');
    assert.equal((await handshake(running.httpsPort, 'a.b.wild.test')).commonName, 'chosen default');
  });

  test('an unknown SNI name, and no SNI at all, get the --default-ssl-certificate Secret', async () => {
    assert.equal((await handshake(running.httpsPort, 'unknown.test')).commonName, 'chosen default');
    assert.equal((await handshake(running.httpsPort, undefined)).commonName, 'chosen default');
  });

  test('a TLS host without secretName gets the default certificate', async () => {
    assert.equal((await handshake(running.httpsPort, 'nosecret.test')).commonName, 'chosen default');
  });

  test('the chain in tls.crt is sent whole: a client trusting only the CA verifies it', async () => {
    const response = await httpsGet(running.httpsPort, { host: 'chain.test', ca: ca.certPem });
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).name, 'web');
  });

  test('a client trusting the exact certificate verifies it end to end, over HTTP/1.1 and HTTP/2', async () => {
    const response = await httpsGet(running.httpsPort, { host: 'exact.test', ca: exact.certPem });
    assert.equal(response.status, 200);
    assert.equal(response.alpnProtocol, 'http/1.1');
    const [h2] = await h2Requests(running.httpsPort, 'a.wild.test', [{ authority: 'a.wild.test', path: '/x' }]);
    assert.equal(h2?.status, 200);
    assert.equal(JSON.parse(h2?.body ?? '{}').name, 'other');
  });

  test('SNI picks the certificate, Host picks the route', async () => {
    const response = await httpsGet(running.httpsPort, { servername: 'exact.test', host: 'plain.test' });
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).name, 'other');
    const served = await handshake(running.httpsPort, 'exact.test');
    assert.equal(served.fingerprint256, fingerprintOf(exact.certPem));
  });

  test("when two Ingresses list a host, the oldest one's Secret is served (ROUTING.md section 4)", async () => {
    const contested = new TlsTestState(
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        tlsSecretYaml('older-tls', exact),
        tlsSecretYaml('newer-tls', wildcard),
        tlsIngressYaml('newer', {
          hosts: ['exact.test'],
          tls: [{ hosts: ['exact.test'], secretName: 'newer-tls' }],
          creationTimestamp: '2026-03-01T00:00:00Z',
        }),
        tlsIngressYaml('older', {
          hosts: ['exact.test'],
          tls: [{ hosts: ['exact.test'], secretName: 'older-tls' }],
          creationTimestamp: '2025-03-01T00:00:00Z',
        }),
      ),
    );
    assert.ok(contested.codes().includes('Ingress default/newer: TlsConflict'));
    const alone = await startTlsProxy(contested);
    try {
      assert.equal((await handshake(alone.httpsPort, 'exact.test')).fingerprint256, fingerprintOf(exact.certPem));
    } finally {
      await alone.close();
    }
  });

  test('without a usable default Secret, the certificate generated at start is served', async () => {
    const bare = new TlsTestState(
      manifests(INGRESS_CLASS_YAML, serviceYaml('web'), tlsIngressYaml('exact', { hosts: ['exact.test'] })),
      { defaultCertificateSecret: 'portico/missing' },
    );
    assert.deepEqual(bare.codes(), ['Secret portico/missing: TlsSecretNotFound']);
    const alone = await startTlsProxy(bare);
    try {
      assert.equal(
        (await handshake(alone.httpsPort, 'exact.test')).fingerprint256,
        fingerprintOf(fallbackDefault.certPem),
      );
      assert.equal(
        (await handshake(alone.httpsPort, undefined)).fingerprint256,
        fingerprintOf(fallbackDefault.certPem),
      );
    } finally {
      await alone.close();
    }
  });

  test('TLS 1.2 and 1.3 only: a TLS 1.1 client is refused, 1.2 gets an ECDHE AEAD suite', async () => {
    await assert.rejects(
      handshake(running.httpsPort, 'exact.test', {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      }),
    );
    const tls12 = await handshake(running.httpsPort, 'exact.test', { maxVersion: 'TLSv1.2' });
    assert.equal(tls12.protocol, 'TLSv1.2');
    assert.match(tls12.cipher, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    assert.equal((await handshake(running.httpsPort, 'exact.test')).protocol, 'TLSv1.3');
  });

  test('a TLS 1.2 client offering only CBC suites is refused', async () => {
    await assert.rejects(
      handshake(running.httpsPort, 'exact.test', {
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA',
      }),
    );
  });

  test('ALPN: h2 preferred, http/1.1 when that is all the client offers', async () => {
    assert.equal((await handshake(running.httpsPort, 'exact.test')).alpnProtocol, 'h2');
    assert.equal((await handshake(running.httpsPort, 'exact.test', { alpn: ['http/1.1'] })).alpnProtocol, 'http/1.1');
    assert.equal((await handshake(running.httpsPort, 'a.wild.test', { alpn: ['h2'] })).alpnProtocol, 'h2');
  });
});
