// The endpoint-selection annotations as compile reads them into route attributes: defaults,
// every accepted form, and one bad value costing only its own annotation.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SESSION_COOKIE_DEFAULTS } from '../../src/compile/annotations/parse-selection-annotations.ts';
import { compile } from '../../src/compile/compile.ts';
import type { RouteAttributes } from '../../src/routing/route-table.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';

const P = 'nginx.ingress.kubernetes.io/';

function attributesFor(annotations: Record<string, string>): { attributes: RouteAttributes; diagnostics: string[] } {
  const prefixed = Object.fromEntries(Object.entries(annotations).map(([name, value]) => [P + name, value]));
  const { table, diagnostics } = compile(
    snapshotFromRecords(
      recordsFromYaml(
        manifests(serviceYaml('web'), ingressYaml('shop', 'shop.test', [{ path: '/cart', service: 'web' }], prefixed)),
      ),
    ),
  );
  const route = table.exactHosts.get('shop.test')?.routes[0];
  assert.ok(route, 'the Ingress is served');
  return { attributes: route.attributes, diagnostics: diagnostics.map((entry) => `${entry.code}: ${entry.reason}`) };
}

describe('selection annotations', () => {
  test('none set: nothing configured', () => {
    const { attributes, diagnostics } = attributesFor({});
    assert.equal(attributes.sessionCookie, undefined);
    assert.equal(attributes.upstreamHashBy, undefined);
    assert.equal(attributes.loadBalance, undefined);
    assert.deepEqual(diagnostics, []);
  });

  test('affinity: cookie alone gets ingress-nginx defaults', () => {
    const { attributes, diagnostics } = attributesFor({ affinity: 'cookie' });
    assert.equal(attributes.sessionCookie?.name, 'INGRESSCOOKIE');
    assert.equal(attributes.sessionCookie?.mode, 'balanced');
    assert.deepEqual(attributes.sessionCookie, SESSION_COOKIE_DEFAULTS);
    assert.deepEqual(diagnostics, []);
  });

  test('every session-cookie annotation', () => {
    const { attributes, diagnostics } = attributesFor({
      affinity: 'cookie',
      'affinity-mode': 'persistent',
      'session-cookie-name': 'route',
      'session-cookie-path': '/cart',
      'session-cookie-domain': '.Shop.test',
      'session-cookie-max-age': '172800',
      'session-cookie-expires': '3600',
      'session-cookie-samesite': 'none',
      'session-cookie-conditional-samesite-none': 'true',
      'session-cookie-secure': 'true',
      'session-cookie-change-on-failure': 'true',
    });
    assert.deepEqual(attributes.sessionCookie, {
      name: 'route',
      mode: 'persistent',
      path: '/cart',
      domain: '.shop.test',
      maxAgeSeconds: 172800,
      expiresSeconds: 3600,
      sameSite: 'None',
      conditionalSameSiteNone: true,
      secure: true,
      changeOnFailure: true,
    });
    assert.deepEqual(diagnostics, []);
  });

  test('session-cookie-* without affinity configure nothing', () => {
    assert.equal(attributesFor({ 'session-cookie-name': 'route' }).attributes.sessionCookie, undefined);
  });

  test('upstream-hash-by and load-balance', () => {
    const { attributes, diagnostics } = attributesFor({
      'upstream-hash-by': '$request_uri$http_x_user',
      'load-balance': 'ewma',
    });
    assert.deepEqual(attributes.upstreamHashBy?.parts, [{ kind: 'request-uri' }, { kind: 'header', name: 'x-user' }]);
    assert.equal(attributes.loadBalance, 'ewma');
    assert.deepEqual(diagnostics, []);
  });

  test('a bad value costs only its own annotation, with a reason', () => {
    const { attributes, diagnostics } = attributesFor({
      affinity: 'cookie',
      'session-cookie-name': 'a;b',
      'upstream-hash-by': '$server_name',
      'load-balance': 'ip_hash',
    });
    assert.equal(attributes.sessionCookie?.name, 'INGRESSCOOKIE');
    assert.equal(attributes.upstreamHashBy, undefined);
    assert.equal(attributes.loadBalance, undefined);
    assert.deepEqual(diagnostics, [
      `InvalidAnnotation: annotation ${P}session-cookie-name must be a header or cookie name (a token), got "a;b"; the annotation is ignored`,
      `InvalidAnnotation: annotation ${P}upstream-hash-by uses $server_name, which Portico does not evaluate (supported: $remote_addr, $request_uri, $http_<name>, $cookie_<name>); the annotation is ignored`,
      `InvalidAnnotation: annotation ${P}load-balance "ip_hash" is not supported: use upstream-hash-by: "$remote_addr"; the annotation is ignored`,
    ]);
  });

  test('upstream-hash-by-subset is reported as unsupported, with why', () => {
    const { diagnostics } = attributesFor({ 'upstream-hash-by': '$remote_addr', 'upstream-hash-by-subset': 'true' });
    assert.equal(diagnostics.length, 1);
    assert.match(
      diagnostics[0] ?? '',
      /^UnsupportedAnnotation: annotation .*upstream-hash-by-subset is ignored: hashing to a subset/,
    );
  });
});

test('the backend carries the Service uid that keys persistent cookies', () => {
  const uid = '0d9e4c1b-7a2f-4e63-b5d8-91c3f0a2e6b4';
  const { table } = compile(
    snapshotFromRecords(
      recordsFromYaml(
        manifests(serviceYaml('web', { uid }), ingressYaml('shop', 'shop.test', [{ path: '/', service: 'web' }])),
      ),
    ),
  );
  const backend = table.exactHosts.get('shop.test')?.routes[0]?.backend;
  assert.equal(backend?.kind === 'service' ? backend.serviceUid : undefined, uid);
});
