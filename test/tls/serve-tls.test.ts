// TLS through the real wiring (src/main.ts): manifests on disk, the manifest source, the control
// loop with its compile + TLS step, both listeners. A Secret edited on disk reaches the next
// handshake without a restart; a broken one logs its diagnostic, shows in /metrics, and its host
// falls back to the default certificate; --default-ssl-certificate answers clients without SNI.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildConfig } from '../../src/config/config.ts';
import { type RunningPortico, startPortico } from '../../src/main.ts';
import { DEFAULT_CERTIFICATE_NAME } from '../../src/tls/default-certificate.ts';
import { manifests, serviceYaml, sliceYaml, INGRESS_CLASS_YAML } from '../support/cluster-manifests.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { captureLogger, LEVEL, type LogLine } from '../runtime/capture-logger.ts';
import { waitFor } from '../standalone/wait-for.ts';
import {
  fingerprintOf,
  type GeneratedCertificate,
  generateCertificate,
  handshake,
  httpsGet,
  tlsIngressYaml,
  tlsSecretYaml,
} from './tls-harness.ts';

describe('serve with TLS', () => {
  let dir = '';
  let web: TestBackend;
  let portico: RunningPortico;
  let lines: LogLine[] = [];
  let first: GeneratedCertificate;
  let second: GeneratedCertificate;
  let chosenDefault: GeneratedCertificate;

  const writeSecret = (pair: { certPem: string; keyPem: string }): Promise<void> =>
    writeFile(join(dir, 'secret.yaml'), tlsSecretYaml('site-tls', pair));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-serve-tls-'));
    web = await startBackend('web', '127.0.0.2');
    [first, second, chosenDefault] = await Promise.all([
      generateCertificate({ commonName: 'site v1', dnsNames: ['site.test'] }),
      generateCertificate({ commonName: 'site v2', dnsNames: ['site.test'] }),
      generateCertificate({ commonName: 'chosen default' }),
    ]);
    await writeFile(
      join(dir, 'objects.yaml'),
      manifests(
        INGRESS_CLASS_YAML,
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        tlsIngressYaml('site', { hosts: ['site.test'], tls: [{ hosts: ['site.test'], secretName: 'site-tls' }] }),
        tlsSecretYaml('default-tls', chosenDefault, { namespace: 'portico' }),
      ),
    );
    await writeSecret(first);
    const result = buildConfig({
      manifests: [dir],
      httpPort: '0',
      adminPort: '0',
      shutdownGracePeriod: '0',
      bindAddress: '127.0.0.1',
      defaultSslCertificate: 'portico/default-tls',
    });
    assert.ok(result.ok);
    const captured = captureLogger('info');
    lines = captured.lines;
    portico = await startPortico(result.config, { processLogger: { logger: captured.logger, flush: () => {} } });
  });

  after(async () => {
    await portico?.stop('test over');
    await web.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('HTTPS listens on its own free port; the generated certificate is logged as such', async () => {
    assert.notEqual(portico.httpsAddress.port, 0);
    assert.notEqual(portico.httpsAddress.port, portico.httpAddress.port);
    const generated = lines.find((line) => /generated a self-signed certificate/.test(line.msg));
    assert.match(String(generated?.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(lines.some((line) => line.msg === 'https listening' && line.port === portico.httpsAddress.port));
    const response = await httpsGet(portico.httpsAddress.port, { host: 'site.test', ca: first.certPem });
    assert.equal(response.status, 200);
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  });

  test('a Secret edited on disk is served by the next handshake; a broken one falls back and is reported', async () => {
    const port = portico.httpsAddress.port;
    assert.equal((await handshake(port, 'site.test')).fingerprint256, fingerprintOf(first.certPem));
    await writeSecret(second);
    await waitFor(
      'the new certificate',
      async () => (await handshake(port, 'site.test')).fingerprint256 === fingerprintOf(second.certPem),
    );

    await writeSecret({ certPem: second.certPem, keyPem: first.keyPem });
    await waitFor(
      'the fallback',
      async () => (await handshake(port, 'site.test')).fingerprint256 === fingerprintOf(chosenDefault.certPem),
    );
    const warning = lines.find((line) => line.level === LEVEL.warn && line.code === 'InvalidTlsSecret');
    assert.equal(warning?.object, 'Ingress default/site');
    assert.match(
      warning?.msg ?? '',
      /tls\.key does not match the certificate in tls\.crt; host site\.test gets the default certificate/,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${portico.adminAddress.port}/metrics`)).text();
    assert.match(metrics, /^portico_diagnostics\{code="InvalidTlsSecret"\} 1$/m);

    await writeSecret(first);
    await waitFor(
      'the repaired certificate',
      async () => (await handshake(port, 'site.test')).fingerprint256 === fingerprintOf(first.certPem),
    );
  });

  test('clients without SNI get the --default-ssl-certificate Secret, not the generated one', async () => {
    const served = await handshake(portico.httpsAddress.port, undefined);
    assert.equal(served.fingerprint256, fingerprintOf(chosenDefault.certPem));
    assert.notEqual(served.commonName, DEFAULT_CERTIFICATE_NAME);
  });
});
