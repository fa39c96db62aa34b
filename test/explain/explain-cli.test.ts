// `portico explain` as a user runs it: one JSON object on stdout, exit 0 for any answer
// (a 404 included), non-zero with a one-line message for unreadable input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { persistentCookieValue } from '../../src/endpoints/cookie-affinity.ts';
import type { Endpoint } from '../../src/endpoints/service-endpoints.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const MINIKUBE = new URL('../fixtures/routing/minikube-tutorial.yaml', import.meta.url).pathname;
const ANSWER_KEYS = [
  'backend',
  'diagnostics',
  'endpoints',
  'ingress',
  'location',
  'reason',
  'rule',
  'status',
  'upstreamHeaders',
  'upstreamPath',
];

function explain(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, 'explain', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function parseSingleJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line of JSON, got: ${stdout}`);
  return JSON.parse(lines[0] as string);
}

describe('portico explain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-explain-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers the tutorial request with the web2 backend and its endpoint', () => {
    const result = explain('--manifests', MINIKUBE, 'http://hello-world.info/v2');
    assert.equal(result.code, 0, result.stderr);
    const answer = parseSingleJson(result.stdout);
    assert.deepEqual(Object.keys(answer).sort(), ANSWER_KEYS);
    assert.equal(answer.status, 200);
    assert.equal(answer.ingress, 'default/example-ingress');
    assert.deepEqual(answer.rule, { host: 'hello-world.info', path: '/v2', pathType: 'Prefix' });
    assert.deepEqual(answer.backend, { namespace: 'default', service: 'web2', port: 8080 });
    assert.equal(answer.upstreamPath, '/v2');
    assert.deepEqual(answer.endpoints, ['10.244.0.6:8080']);
    assert.deepEqual(answer.diagnostics, []);
  });

  it('takes the Host from -H and reports a 404 as an answer with exit 0', () => {
    const hit = parseSingleJson(
      explain('--manifests', MINIKUBE, '-H', 'Host: hello-world.info', 'http://127.0.0.1:8080/').stdout,
    );
    assert.deepEqual(hit.backend, { namespace: 'default', service: 'web', port: 8080 });
    const miss = explain('--manifests', MINIKUBE, 'http://nobody.example/');
    assert.equal(miss.code, 0);
    assert.equal(parseSingleJson(miss.stdout).status, 404);
  });

  it('reads JSON `kind: List` files and directories', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'svc', namespace: 'team' },
          spec: { ports: [{ name: 'http', port: 80 }] },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'json', namespace: 'team' },
          spec: {
            rules: [
              {
                host: 'json.test',
                http: {
                  paths: [
                    { path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { name: 'http' } } } },
                  ],
                },
              },
            ],
          },
        },
      ],
    };
    const sub = join(dir, 'manifests');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'list.json'), JSON.stringify(list));
    writeFileSync(join(sub, 'notes.txt'), 'not a manifest');
    const answer = parseSingleJson(explain('--manifests', sub, '--watch-ingress-without-class', 'json.test/x').stdout);
    assert.equal(answer.status, 503, 'no EndpointSlices: the backend is known but has no endpoints');
    assert.deepEqual(answer.backend, { namespace: 'team', service: 'svc', port: 'http' });
    assert.equal(answer.ingress, 'team/json');
  });

  it('reports TLS problems as the proxy would: a missing Secret is a diagnostic', () => {
    const manifest = join(dir, 'tls.yaml');
    writeFileSync(
      manifest,
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: Ingress',
        'metadata: { name: shop, namespace: web }',
        'spec:',
        '  tls: [{ hosts: [shop.test], secretName: shop-cert }]',
        '  rules: [{ host: shop.test, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: shop, port: { number: 80 } } } }] } }]',
      ].join('\n'),
    );
    const answer = parseSingleJson(
      explain('--manifests', manifest, '--watch-ingress-without-class', 'http://shop.test/').stdout,
    );
    assert.equal(answer.status, 308);
    const codes = (answer.diagnostics as { object: string; code: string }[]).map((d) => `${d.object}: ${d.code}`);
    assert.ok(codes.includes('Ingress web/shop: TlsSecretNotFound'), codes.join(', '));
  });

  it('reports where upstream-hash-by and a session cookie place the request', () => {
    const uid = '2c7e9a41-5b3d-4f08-a6e2-d1b9c4f7e350';
    const ips = ['10.9.0.1', '10.9.0.2', '10.9.0.3'];
    const file = join(dir, 'placement.yaml');
    writeFileSync(
      file,
      manifests(
        serviceYaml('web', { uid }),
        sliceYaml(
          'web',
          ips.map((ip) => ({ ip, port: 8080 })),
        ),
        ingressYaml('hashed', 'hash.test', [{ path: '/', service: 'web' }], {
          'nginx.ingress.kubernetes.io/upstream-hash-by': '$http_x_user',
        }),
        ingressYaml('sticky', 'sticky.test', [{ path: '/', service: 'web' }], {
          'nginx.ingress.kubernetes.io/affinity': 'cookie',
          'nginx.ingress.kubernetes.io/affinity-mode': 'persistent',
        }),
      ),
    );
    const placed = (...args: string[]) => parseSingleJson(explain('--manifests', file, ...args).stdout).placement;
    const alice = placed('-H', 'X-User: alice', 'http://hash.test/a') as { endpoint: string; key: string };
    assert.equal(alice.key, 'alice');
    assert.ok(ips.some((ip) => alice.endpoint === `${ip}:8080`));
    assert.deepEqual(placed('-H', 'X-User: alice', 'http://hash.test/other/path'), alice);
    assert.deepEqual(placed('http://sticky.test/'), {
      by: 'cookie',
      cookie: 'INGRESSCOOKIE',
      mode: 'persistent',
      endpoint: null,
    });
    const endpoints = ips.map((ip) => ({
      address: ip,
      port: 8080,
      id: `${ip}:8080`,
      ready: true,
      serving: true,
      terminating: false,
    }));
    const value = persistentCookieValue(endpoints, uid, endpoints[1] as Endpoint);
    assert.equal(
      (placed('-H', `Cookie: INGRESSCOOKIE=${value}`, 'http://sticky.test/') as { endpoint: string }).endpoint,
      '10.9.0.2:8080',
    );
    assert.equal(
      parseSingleJson(explain('--manifests', MINIKUBE, 'http://hello-world.info/v2').stdout).placement,
      undefined,
      'absent without those annotations',
    );
  });

  it('exits non-zero with one line for unparsable or missing input', () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: Ingress\nmetadata: [unclosed\n');
    const bad = explain('--manifests', broken, 'http://a/');
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /broken\.yaml/);
    const missing = explain('--manifests', join(dir, 'nope.yaml'), 'http://a/');
    assert.notEqual(missing.code, 0);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  });
});
