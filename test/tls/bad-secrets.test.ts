// Unusable TLS Secrets: each problem is one diagnostic on the Ingress that owns the host, that
// host's handshakes get the default certificate, and every other host keeps its own. Fixing
// the Secret brings the host's certificate back with the next table, without a restart.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INGRESS_CLASS_YAML, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import {
  fingerprintOf,
  type GeneratedCertificate,
  generateCertificate,
  handshake,
  httpsGet,
  startTlsProxy,
  testFallbackCertificate,
  tlsIngressYaml,
  tlsSecretYaml,
  TlsTestState,
} from './tls-harness.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('bad TLS Secrets', () => {
  let web: TestBackend;
  let good: GeneratedCertificate;
  let other: GeneratedCertificate;
  let expired: GeneratedCertificate;
  let future: GeneratedCertificate;
  let fallback: GeneratedCertificate;
  let base: string;

  /** one Ingress per case, host `<case>.test` with Secret `<case>-tls` */
  function ingressFor(name: string): string {
    return tlsIngressYaml(name, {
      hosts: [`${name}.test`],
      tls: [{ hosts: [`${name}.test`], secretName: `${name}-tls` }],
    });
  }

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    const now = Date.now();
    [good, other, expired, future, fallback] = await Promise.all([
      generateCertificate({
        commonName: 'good.test',
        dnsNames: ['good.test', 'fixed.test', 'badpem.test', 'mismatch.test'],
      }),
      generateCertificate({ commonName: 'other', dnsNames: ['mismatch.test'] }),
      generateCertificate({
        commonName: 'expired.test',
        dnsNames: ['expired.test'],
        notBefore: new Date(now - 30 * DAY_MS),
        notAfter: new Date(now - DAY_MS),
      }),
      generateCertificate({
        commonName: 'future.test',
        dnsNames: ['future.test'],
        notBefore: new Date(now + DAY_MS),
        notAfter: new Date(now + 30 * DAY_MS),
      }),
      testFallbackCertificate(),
    ]);
    base = manifests(INGRESS_CLASS_YAML, serviceYaml('web'), sliceYaml('web', [{ ip: web.address, port: web.port }]));
  });

  after(async () => {
    await web.close();
  });

  test('each problem is one diagnostic on the owning Ingress, and only that host falls back', async () => {
    const state = new TlsTestState(
      manifests(
        base,
        tlsSecretYaml('good-tls', good),
        ingressFor('good'),
        tlsSecretYaml('badpem-tls', {
          certPem: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
          keyPem: good.keyPem,
        }),
        ingressFor('badpem'),
        tlsSecretYaml('nopem-tls', { certPem: 'hello', keyPem: good.keyPem }),
        ingressFor('nopem'),
        tlsSecretYaml('mismatch-tls', { certPem: other.certPem, keyPem: good.keyPem }),
        ingressFor('mismatch'),
        tlsSecretYaml('badkey-tls', {
          certPem: good.certPem,
          keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
        }),
        ingressFor('badkey'),
        tlsSecretYaml('expired-tls', expired),
        ingressFor('expired'),
        tlsSecretYaml('future-tls', future),
        ingressFor('future'),
        tlsSecretYaml('opaque-tls', good, { type: 'Opaque' }),
        ingressFor('opaque'),
        ingressFor('missing'),
        // good-tls names good.test, not elsewhere.test
        tlsIngressYaml('elsewhere', {
          hosts: ['elsewhere.test'],
          tls: [{ hosts: ['elsewhere.test'], secretName: 'good-tls' }],
        }),
      ),
    );
    assert.deepEqual(state.codes().sort(), [
      'Ingress default/badkey: InvalidTlsSecret',
      'Ingress default/badpem: InvalidTlsSecret',
      'Ingress default/elsewhere: TlsHostMismatch',
      'Ingress default/expired: TlsCertificateExpired',
      'Ingress default/future: TlsCertificateNotYetValid',
      'Ingress default/mismatch: InvalidTlsSecret',
      'Ingress default/missing: TlsSecretNotFound',
      'Ingress default/nopem: InvalidTlsSecret',
      'Ingress default/opaque: InvalidTlsSecret',
    ]);
    const reasons = new Map(state.diagnostics.map((diagnostic) => [diagnostic.object, diagnostic.reason]));
    assert.match(
      reasons.get('Ingress default/mismatch') ?? '',
      /tls\.key does not match the certificate in tls\.crt; host mismatch\.test gets the default certificate/,
    );
    assert.match(
      reasons.get('Ingress default/badpem') ?? '',
      /TLS Secret default\/badpem-tls tls\.crt certificate 1 of 1 is not valid/,
    );
    assert.match(reasons.get('Ingress default/nopem') ?? '', /tls\.crt holds no PEM certificate/);
    assert.match(reasons.get('Ingress default/badkey') ?? '', /tls\.key is not a usable PEM private key/);
    assert.match(reasons.get('Ingress default/expired') ?? '', /expired at \d{4}-/);
    assert.match(reasons.get('Ingress default/opaque') ?? '', /is of type Opaque, not kubernetes\.io\/tls/);
    assert.match(
      reasons.get('Ingress default/elsewhere') ?? '',
      /does not name elsewhere\.test; it gets the default certificate/,
    );

    const running = await startTlsProxy(state);
    try {
      assert.equal((await handshake(running.httpsPort, 'good.test')).fingerprint256, fingerprintOf(good.certPem));
      for (const name of [
        'badpem',
        'nopem',
        'mismatch',
        'badkey',
        'expired',
        'future',
        'opaque',
        'missing',
        'elsewhere',
      ]) {
        const served = await handshake(running.httpsPort, `${name}.test`);
        assert.equal(served.fingerprint256, fingerprintOf(fallback.certPem), `${name}.test`);
      }
      // The route itself still answers over HTTPS: only the certificate changed.
      const response = await httpsGet(running.httpsPort, { host: 'mismatch.test' });
      assert.equal(response.status, 200);
    } finally {
      await running.close();
    }
  });

  test('a bad Secret fixed in place is served by the next handshake, without a restart', async () => {
    const broken = manifests(
      base,
      tlsSecretYaml('good-tls', good),
      ingressFor('good'),
      tlsSecretYaml('fixed-tls', { certPem: other.certPem, keyPem: good.keyPem }),
      ingressFor('fixed'),
    );
    const state = new TlsTestState(broken);
    assert.deepEqual(state.codes(), ['Ingress default/fixed: InvalidTlsSecret']);
    const running = await startTlsProxy(state);
    try {
      assert.equal((await handshake(running.httpsPort, 'fixed.test')).fingerprint256, fingerprintOf(fallback.certPem));
      state.load(
        manifests(
          base,
          tlsSecretYaml('good-tls', good),
          ingressFor('good'),
          tlsSecretYaml('fixed-tls', good),
          ingressFor('fixed'),
        ),
      );
      assert.deepEqual(state.codes(), []);
      assert.equal((await handshake(running.httpsPort, 'fixed.test')).fingerprint256, fingerprintOf(good.certPem));
      assert.equal((await handshake(running.httpsPort, 'good.test')).fingerprint256, fingerprintOf(good.certPem));
    } finally {
      await running.close();
    }
  });

  test('a certificate that expires after the table was built is no longer served', async () => {
    let clock = Date.now();
    const state = new TlsTestState(manifests(base, tlsSecretYaml('good-tls', good), ingressFor('good')));
    const running = await startTlsProxy(state, { https: { wallClock: () => clock } });
    try {
      assert.equal((await handshake(running.httpsPort, 'good.test')).fingerprint256, fingerprintOf(good.certPem));
      clock += 2 * 365 * DAY_MS;
      assert.equal((await handshake(running.httpsPort, 'good.test')).fingerprint256, fingerprintOf(fallback.certPem));
    } finally {
      await running.close();
    }
  });

  test('clients without SNI follow the --default-ssl-certificate Secret as it changes', async () => {
    const withDefault = (pair: GeneratedCertificate): string =>
      manifests(base, tlsSecretYaml('default-tls', pair, { namespace: 'portico' }));
    const state = new TlsTestState(withDefault(good), { defaultCertificateSecret: 'portico/default-tls' });
    const running = await startTlsProxy(state);
    try {
      assert.equal((await handshake(running.httpsPort, undefined)).fingerprint256, fingerprintOf(good.certPem));
      state.load(withDefault(other));
      // What the control loop's swap listener does in src/main.ts.
      running.proxy.refreshDefaultCertificate();
      assert.equal((await handshake(running.httpsPort, undefined)).fingerprint256, fingerprintOf(other.certPem));
      assert.equal((await handshake(running.httpsPort, 'unknown.test')).fingerprint256, fingerprintOf(other.certPem));
    } finally {
      await running.close();
    }
  });

  test('a bad --default-ssl-certificate is a diagnostic on the Secret; the generated certificate is served', async () => {
    const state = new TlsTestState(manifests(base, tlsSecretYaml('default-tls', expired, { namespace: 'portico' })), {
      defaultCertificateSecret: 'portico/default-tls',
    });
    assert.deepEqual(state.codes(), ['Secret portico/default-tls: TlsCertificateExpired']);
    assert.match(state.diagnostics[0]?.reason ?? '', /the generated self-signed certificate is served instead/);
    const running = await startTlsProxy(state);
    try {
      assert.equal((await handshake(running.httpsPort, undefined)).fingerprint256, fingerprintOf(fallback.certPem));
    } finally {
      await running.close();
    }
  });
});
