// Value grammar of the response annotations (CORS, custom-http-errors, default-backend, limit-*),
// what parseRouteAnnotations makes of them, and CORS origin matching.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTE_ANNOTATIONS } from '../../src/compile/annotations/annotation-registry.ts';
import { parseRouteAnnotations } from '../../src/compile/annotations/parse-route-annotations.ts';
import { compile } from '../../src/compile/compile.ts';
import type { IngressRecord } from '../../src/model/records.ts';
import {
  allowedOrigin,
  CORS_DEFAULTS,
  type CorsPolicy,
  corsHeaders,
  isPreflight,
} from '../../src/routing/cors-policy.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

/** good → parsed value, bad → rejected, per annotation */
const GRAMMAR: Partial<Record<keyof typeof ROUTE_ANNOTATIONS, { good: [string, unknown][]; bad: string[] }>> = {
  enableCors: {
    good: [
      ['true', true],
      ['False', false],
    ],
    bad: ['yes', '1', ''],
  },
  corsAllowOrigin: {
    good: [
      ['*', '*'],
      [
        'https://a.test:8443, http://*.b.test',
        [
          { scheme: 'https', wildcard: false, host: 'a.test', port: ':8443' },
          { scheme: 'http', wildcard: true, host: 'b.test', port: '' },
        ],
      ],
      ['myapp://Origin.Example', [{ scheme: 'myapp', wildcard: false, host: 'origin.example', port: '' }]],
    ],
    bad: [
      '',
      'a.test',
      'https://a.test/path',
      'https://a.test,',
      '*, https://a.test',
      'https://*.*.a.test',
      'https://a.*.test',
      '"https://a.test"',
    ],
  },
  corsAllowMethods: { good: [['GET,POST , put', 'GET, POST, put']], bad: ['', 'GET;', 'P0ST', 'GET,,POST'] },
  corsAllowHeaders: {
    good: [['X-Api_Key, Content-Type', 'X-Api_Key, Content-Type']],
    bad: ['', 'X Bad', '*', 'X-A\r\nX-B'],
  },
  corsExposeHeaders: { good: [['*, X-Custom', '*, X-Custom']], bad: ['', 'X-Ok;'] },
  corsAllowCredentials: { good: [['false', false]], bad: ['no'] },
  corsMaxAge: {
    good: [
      ['0', 0],
      ['600', 600],
    ],
    bad: ['-1', '1.5', '99999999999', ''],
  },
  customHttpErrors: { good: [['404, 503,404', [404, 503]]], bad: ['', '302', '404,', '600', 'abc', '40'] },
  defaultBackend: { good: [['error-pages', 'error-pages']], bad: ['', 'Bad_Name', 'ns/name', '-x', 'a'.repeat(64)] },
  limitRps: {
    good: [
      ['0', 0],
      ['10', 10],
    ],
    bad: ['1.5', '-3', '', '10000000'],
  },
  limitRpm: { good: [['600', 600]], bad: ['x'] },
  limitConnections: { good: [['2', 2]], bad: ['many'] },
  limitBurstMultiplier: {
    good: [
      ['1', 1],
      ['10', 10],
    ],
    bad: ['0', '1001', '2.5'],
  },
  limitAllowlist: { good: [], bad: ['10.0.0.0/8, nope', ''] },
  limitWhitelist: { good: [], bad: ['300.0.0.1'] },
};

describe('response annotation grammar', () => {
  for (const [key, cases] of Object.entries(GRAMMAR)) {
    const spec = ROUTE_ANNOTATIONS[key as keyof typeof ROUTE_ANNOTATIONS];
    test(spec.name, () => {
      for (const [raw, expected] of cases?.good ?? []) {
        const parsed = spec.parse(raw);
        assert.ok(parsed.ok, `${spec.name}: ${JSON.stringify(raw)} should parse`);
        assert.deepEqual(parsed.value, expected, `${spec.name}: ${JSON.stringify(raw)}`);
      }
      for (const raw of cases?.bad ?? [])
        assert.equal(spec.parse(raw).ok, false, `${spec.name}: ${JSON.stringify(raw)}`);
    });
  }
});

function ingressWith(annotations: Record<string, string>): IngressRecord {
  const records = recordsFromYaml(
    manifests(
      ingressYaml(
        'web',
        'a.test',
        [{ path: '/', service: 'app' }],
        Object.fromEntries(Object.entries(annotations).map(([name, value]) => [NGINX + name, value])),
      ),
    ),
  );
  return records.find((record) => record.kind === 'Ingress') as IngressRecord;
}

describe('parseRouteAnnotations: response annotations', () => {
  test('enable-cors with nothing else takes ingress-nginx defaults; cors-* alone do nothing', () => {
    const on = parseRouteAnnotations(ingressWith({ 'enable-cors': 'true' }));
    assert.deepEqual(on.diagnostics, []);
    assert.deepEqual(on.attributes.cors, { origins: '*', exposeHeaders: undefined, ...CORS_DEFAULTS });
    const off = parseRouteAnnotations(ingressWith({ 'cors-allow-origin': 'https://a.test', 'cors-max-age': 'x' }));
    assert.equal(off.attributes.cors, undefined);
    assert.equal(off.diagnostics.length, 1, 'a bad cors-* value is reported even while CORS is off');
  });

  test('a bad cors-* value: one diagnostic, that field at its default, CORS still on', () => {
    const parsed = parseRouteAnnotations(
      ingressWith({ 'enable-cors': 'true', 'cors-allow-methods': 'GET;DROP', 'cors-max-age': '60' }),
    );
    assert.equal(parsed.diagnostics.length, 1);
    assert.match(parsed.diagnostics[0]?.reason ?? '', /cors-allow-methods .* the annotation is ignored/);
    assert.equal(parsed.attributes.cors?.allowMethods, CORS_DEFAULTS.allowMethods);
    assert.equal(parsed.attributes.cors?.maxAgeSeconds, 60);
  });

  test('limits: zone per Ingress, burst multiplier 5 by default, 0 turns a limit off, allowlist over whitelist', () => {
    const parsed = parseRouteAnnotations(
      ingressWith({
        'limit-rps': '3',
        'limit-rpm': '0',
        'limit-allowlist': '10.0.0.0/8',
        'limit-whitelist': '192.168.0.0/16',
      }),
    );
    const limits = parsed.attributes.limits;
    assert.equal(limits?.zone, 'default/web');
    assert.equal(limits?.rps, 3);
    assert.equal(limits?.rpm, undefined);
    assert.equal(limits?.connections, undefined);
    assert.equal(limits?.burstMultiplier, 5);
    assert.deepEqual(
      limits?.exempt?.map((range) => range.text),
      ['10.0.0.0/8'],
    );
    assert.equal(
      parseRouteAnnotations(ingressWith({ 'limit-rps': '0', 'limit-connections': '0' })).attributes.limits,
      undefined,
    );
  });

  test('custom-http-errors and default-backend', () => {
    const parsed = parseRouteAnnotations(ingressWith({ 'custom-http-errors': '404,503', 'default-backend': 'errors' }));
    assert.deepEqual(parsed.attributes.customHttpErrors, [404, 503]);
    assert.equal(parsed.defaultBackendService, 'errors');
  });
});

describe('compile: default-backend', () => {
  function compileWith(defaultBackend: string, services: string[]) {
    const records = recordsFromYaml(
      manifests(
        ...services,
        serviceYaml('app'),
        ingressYaml('web', 'a.test', [{ path: '/', service: 'app' }], { [`${NGINX}default-backend`]: defaultBackend }),
      ),
    );
    return compile(snapshotFromRecords(records));
  }

  test('resolves the Service of the Ingress namespace at its first port', () => {
    const { table, diagnostics } = compileWith('errors', [serviceYaml('errors', { port: 8080 })]);
    assert.deepEqual(diagnostics, []);
    const route = table.exactHosts.get('a.test')?.routes[0];
    const backend = route?.attributes.defaultBackend;
    assert.equal(backend?.kind, 'service');
    assert.deepEqual(backend?.ref, { namespace: 'default', service: 'errors', port: 8080 });
  });

  test('a missing Service: one diagnostic, the annotation ignored, the route served', () => {
    const { table, diagnostics } = compileWith('ghost', []);
    assert.deepEqual(
      diagnostics.map((diagnostic) => diagnostic.code),
      ['InvalidAnnotation'],
    );
    assert.match(diagnostics[0]?.reason ?? '', /default-backend names service default\/ghost/);
    const route = table.exactHosts.get('a.test')?.routes[0];
    assert.equal(route?.attributes.defaultBackend, undefined);
    assert.equal(route?.backend.kind, 'service');
  });
});

describe('CORS origin matching', () => {
  const policy = (origins: string): CorsPolicy => {
    const parsed = ROUTE_ANNOTATIONS.corsAllowOrigin.parse(origins);
    assert.ok(parsed.ok);
    return { ...CORS_DEFAULTS, origins: parsed.value, exposeHeaders: undefined };
  };

  test('* answers * to any Origin; no Origin, no CORS', () => {
    assert.equal(allowedOrigin(policy('*'), 'https://x.test'), '*');
    assert.equal(allowedOrigin(policy('*'), undefined), undefined);
  });

  test('listed origins are echoed; wildcard is exactly one label; port and scheme must match', () => {
    const listed = policy('https://app.test:8443, https://*.example.com');
    for (const [origin, expected] of [
      ['https://app.test:8443', 'https://app.test:8443'],
      ['HTTPS://App.Test:8443', 'HTTPS://App.Test:8443'],
      ['https://app.test', undefined],
      ['http://app.test:8443', undefined],
      ['https://a-1.example.com', 'https://a-1.example.com'],
      ['https://example.com', undefined],
      ['https://a.b.example.com', undefined],
      ['https://evil.com.example.com.attacker.test', undefined],
      ['https://a.example.com:444', undefined],
      ['https://xapp.test:8443', undefined],
      ['null', undefined],
    ] as const) {
      assert.equal(allowedOrigin(listed, origin), expected, origin);
    }
  });

  test('fields: credentials and expose only when set; preflight needs OPTIONS, Origin and the method header', () => {
    const fields = corsHeaders({ ...policy('*'), allowCredentials: false, exposeHeaders: 'X-Total' }, '*');
    const names = fields.filter((_, index) => index % 2 === 0);
    assert.deepEqual(names, [
      'access-control-allow-origin',
      'access-control-allow-methods',
      'access-control-allow-headers',
      'access-control-expose-headers',
      'access-control-max-age',
    ]);
    assert.equal(isPreflight('OPTIONS', 'https://a.test', 'PUT'), true);
    assert.equal(isPreflight('OPTIONS', 'https://a.test', undefined), false);
    assert.equal(isPreflight('OPTIONS', undefined, 'PUT'), false);
    assert.equal(isPreflight('GET', 'https://a.test', 'PUT'), false);
  });
});
