// The HTTPS flags: --https-port, --default-ssl-certificate and the Strict-Transport-Security
// switches, checked by buildConfig like every other flag (all problems at once, one line each).

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildConfig, type Config, type ConfigInput } from '../../src/config/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'portico-tls-config-'));

function config(input: Omit<ConfigInput, 'manifests'>): Config {
  const result = buildConfig({ manifests: [dir], ...input });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

function problems(input: Omit<ConfigInput, 'manifests'>): readonly string[] {
  const result = buildConfig({ manifests: [dir], ...input });
  return result.ok ? [] : result.problems;
}

describe('TLS flags', () => {
  test('defaults: HTTPS on 8443, generated default certificate, HSTS for a year with subdomains', () => {
    const defaults = config({});
    assert.equal(defaults.httpsPort, 8443);
    assert.deepEqual(defaults.tls, {
      defaultCertificateSecret: undefined,
      strictTransportSecurity: 'max-age=31536000; includeSubDomains',
    });
  });

  test('--http-port 0 makes HTTPS take any free port too, unless --https-port is given', () => {
    assert.equal(config({ httpPort: '0' }).httpsPort, 0);
    assert.equal(config({ httpPort: '0', httpsPort: '9443' }).httpsPort, 9443);
  });

  test('every TLS flag set', () => {
    const set = config({
      httpsPort: '443',
      defaultSslCertificate: 'ingress/wildcard-tls',
      hstsMaxAge: '600',
      hstsIncludeSubdomains: 'false',
    });
    assert.equal(set.httpsPort, 443);
    assert.deepEqual(set.tls, {
      defaultCertificateSecret: 'ingress/wildcard-tls',
      strictTransportSecurity: 'max-age=600',
    });
    assert.equal(config({ hsts: 'false' }).tls.strictTransportSecurity, undefined);
    assert.equal(config({ hstsMaxAge: '0' }).tls.strictTransportSecurity, 'max-age=0; includeSubDomains');
  });

  test('bad values: one line each, all at once', () => {
    assert.deepEqual(
      problems({
        httpsPort: '70000',
        defaultSslCertificate: 'just-a-name',
        hsts: 'yes',
        hstsMaxAge: '-1',
        hstsIncludeSubdomains: 'maybe',
      }),
      [
        '--https-port "70000" is not a port: use 1-65535 (or 0 for any free port)',
        '--default-ssl-certificate "just-a-name" must be namespace/name',
        '--hsts "yes" must be true or false',
        '--hsts-include-subdomains "maybe" must be true or false',
        '--hsts-max-age "-1" must be a number of seconds, 0-2147483647',
      ],
    );
  });

  test('HTTPS needs its own port', () => {
    assert.deepEqual(problems({ httpPort: '8443' }), [
      '--http-port and --https-port are both 8443; each listener needs its own port',
    ]);
    assert.deepEqual(problems({ httpsPort: '10254' }), [
      '--https-port and --admin-port are both 10254; each listener needs its own port',
    ]);
  });
});
