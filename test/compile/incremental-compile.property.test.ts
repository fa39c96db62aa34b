// Property: a compile that reuses the previous result gives the same table and diagnostics as a
// compile from scratch, after any sequence of changes (Ingresses edited, added, deleted or
// moved to another class; Services and Secrets created, changed and deleted; IngressClasses
// changed), with and without the route cap in force. Tables are compared as plain data
// (patterns by source, host lookups by what they answer), so a stale reused route, host entry,
// order or diagnostic fails it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compile, type CompileResult } from '../../src/compile/compile.ts';
import { type CompileOptions, DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import type { ClusterRecord } from '../../src/model/records.ts';
import { normalizeObject } from '../../src/normalize/normalize-object.ts';
import type { HostRoutes, RouteTable } from '../../src/routing/route-table.ts';
import { applyChange, type ClusterChange, snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const HTPASSWD = 'alice:{PLAIN}secret\n';

const host = fc.constantFrom('x.test', 'y.test', '*.test', '', 'Y.TEST', 'bad_host');
const literalPath = fc.constantFrom('/', '/a', '/a/', '/a/b', '/api', '', 'relative');
const regexPath = fc.constantFrom('/a(/|$)(.*)', '/[ab]+', '/api/v[0-9]', '/(x', '/a');
const backend = fc.record({
  service: fc.constantFrom('svc-a', 'svc-b', 'svc-missing'),
  port: fc.constantFrom<number | string>(80, 81, 'http'),
});

const ingressSpec = fc.record({
  name: fc.constantFrom('i0', 'i1', 'i2', 'i3', 'i4'),
  day: fc.integer({ min: 1, max: 3 }),
  className: fc.constantFrom<string | undefined>('portico', 'portico', 'other', 'missing', undefined),
  regex: fc.boolean(),
  canary: fc.constantFrom<string | undefined>(undefined, undefined, 'weight', 'header'),
  readTimeout: fc.constantFrom<string | undefined>(undefined, '30', 'soon'),
  defaultBackendAnnotation: fc.boolean(),
  auth: fc.boolean(),
  defaultBackend: fc.option(backend, { nil: undefined }),
  rules: fc.array(
    fc.record({
      host,
      paths: fc.option(
        fc.array(
          fc.record({
            literal: literalPath,
            regex: regexPath,
            pathType: fc.constantFrom<string | undefined>('Exact', 'Prefix', 'ImplementationSpecific', undefined),
            backend,
          }),
          { maxLength: 3 },
        ),
        { nil: undefined },
      ),
    }),
    { maxLength: 3 },
  ),
  tls: fc.array(fc.record({ hosts: fc.array(host, { maxLength: 2 }), secret: fc.boolean() }), { maxLength: 2 }),
});
type IngressSpec = typeof ingressSpec extends fc.Arbitrary<infer T> ? T : never;

function toRecord(object: unknown): ClusterRecord {
  const normalized = normalizeObject(object);
  assert.ok(normalized.ok, JSON.stringify(object));
  return normalized.record as ClusterRecord;
}

function ingressRecord(spec: IngressSpec): ClusterRecord {
  const annotations: Record<string, string> = {};
  if (spec.regex) annotations[`${NGINX}use-regex`] = 'true';
  if (spec.canary) annotations[`${NGINX}canary`] = 'true';
  if (spec.canary === 'weight') annotations[`${NGINX}canary-weight`] = '50';
  if (spec.canary === 'header') annotations[`${NGINX}canary-by-header`] = 'X-Canary';
  if (spec.readTimeout) annotations[`${NGINX}proxy-read-timeout`] = spec.readTimeout;
  if (spec.defaultBackendAnnotation) annotations[`${NGINX}default-backend`] = 'svc-b';
  if (spec.auth) {
    annotations[`${NGINX}auth-type`] = 'basic';
    annotations[`${NGINX}auth-secret`] = 'users';
  }
  const backendOf = (ref: { service: string; port: number | string }) => ({
    service: { name: ref.service, port: typeof ref.port === 'number' ? { number: ref.port } : { name: ref.port } },
  });
  return toRecord({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: spec.name,
      namespace: 'default',
      creationTimestamp: `2026-01-0${spec.day}T00:00:00Z`,
      annotations,
    },
    spec: {
      ingressClassName: spec.className,
      defaultBackend: spec.defaultBackend ? backendOf(spec.defaultBackend) : undefined,
      rules: spec.rules.map((rule) => ({
        host: rule.host || undefined,
        http: rule.paths && {
          paths: rule.paths.map((path) => ({
            path: spec.regex ? path.regex : path.literal,
            pathType: path.pathType,
            backend: backendOf(path.backend),
          })),
        },
      })),
      tls: spec.tls.map((entry) => ({ hosts: entry.hosts, secretName: entry.secret ? 'cert' : undefined })),
    },
  });
}

const serviceSpec = fc.record({
  name: fc.constantFrom('svc-a', 'svc-b'),
  port: fc.constantFrom(80, 81),
  appProtocol: fc.constantFrom<string | undefined>(undefined, 'https', 'kubernetes.io/h2c'),
  externalName: fc.boolean(),
});

function serviceRecord(spec: typeof serviceSpec extends fc.Arbitrary<infer T> ? T : never): ClusterRecord {
  return toRecord({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: 'default' },
    spec: {
      type: spec.externalName ? 'ExternalName' : 'ClusterIP',
      externalName: spec.externalName ? 'example.org' : undefined,
      ports: [{ name: 'http', port: spec.port, targetPort: 8080, appProtocol: spec.appProtocol }],
    },
  });
}

function usersSecret(users: string): ClusterRecord {
  return toRecord({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'users', namespace: 'default' },
    type: 'Opaque',
    stringData: { auth: users },
  });
}

function ingressClass(name: string, controller: string): ClusterRecord {
  return toRecord({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name },
    spec: { controller },
  });
}

const change: fc.Arbitrary<ClusterChange> = fc.oneof(
  { weight: 6, arbitrary: ingressSpec.map((spec): ClusterChange => ({ type: 'upsert', record: ingressRecord(spec) })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('i0', 'i1', 'i2', 'i3', 'i4')
      .map((name): ClusterChange => ({ type: 'delete', kind: 'Ingress', key: `default/${name}` })),
  },
  { weight: 2, arbitrary: serviceSpec.map((spec): ClusterChange => ({ type: 'upsert', record: serviceRecord(spec) })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('svc-a', 'svc-b')
      .map((name): ClusterChange => ({ type: 'delete', kind: 'Service', key: `default/${name}` })),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc
        .constantFrom(HTPASSWD, 'bob:{PLAIN}x\n', 'not a line')
        .map((users): ClusterChange => ({ type: 'upsert', record: usersSecret(users) })),
      fc.constant<ClusterChange>({ type: 'delete', kind: 'Secret', key: 'default/users' }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('portico.dev/ingress-controller', 'example.com/other')
      .map((controller): ClusterChange => ({ type: 'upsert', record: ingressClass('other', controller) })),
  },
);

/** Plain data for deep comparison: Maps and Sets as sorted entries, patterns by source, functions dropped. */
function plain(value: unknown): unknown {
  if (value instanceof Map) {
    return [...value.entries()]
      .map(([key, entry]) => [String(key), plain(entry)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  if (value instanceof Set) return [...value].map(plain).sort();
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'function') return '[function]';
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (key === 'lookup') continue; // compared by what it answers, below
      out[key] = plain((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

const PROBES = ['/', '/a', '/a/', '/a/b', '/a/b/c', '/api', '/api/v1', '/b', '/ab', '/x'];

function describeEntry(entry: HostRoutes) {
  return {
    entry: plain(entry),
    answers: PROBES.map((path) => {
      const found = entry.lookup.find(path);
      return found && { ingress: found.route.ingress, path: found.route.path, groups: found.groups };
    }),
  };
}

function describeTable(table: RouteTable) {
  const entries = (map: ReadonlyMap<string, HostRoutes>) =>
    [...map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, entry]) => [key, describeEntry(entry)]);
  return {
    exactHosts: entries(table.exactHosts),
    wildcardHosts: entries(table.wildcardHosts),
    hostless: table.hostless && describeEntry(table.hostless),
    rest: plain({ ...table, exactHosts: undefined, wildcardHosts: undefined, hostless: undefined }),
  };
}

function assertSameResult(incremental: CompileResult, scratch: CompileResult, step: number): void {
  assert.deepStrictEqual(describeTable(incremental.table), describeTable(scratch.table), `table after change ${step}`);
  assert.deepStrictEqual(incremental.diagnostics, scratch.diagnostics, `diagnostics after change ${step}`);
}

const START = [
  ingressClass('portico', 'portico.dev/ingress-controller'),
  ingressClass('other', 'example.com/other'),
  serviceRecord({ name: 'svc-a', port: 80, appProtocol: undefined, externalName: false }),
  usersSecret(HTPASSWD),
];

describe('incremental compile', () => {
  it('equals a compile from scratch after every change of random sequences', () => {
    fc.assert(
      fc.property(
        fc.array(ingressSpec, { maxLength: 5 }),
        fc.array(change, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(DEFAULT_COMPILE_OPTIONS.maxRoutes, 2, 5),
        (initial, changes, maxRoutes) => {
          const options: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, maxRoutes };
          let snapshot = snapshotFromRecords([...START, ...initial.map(ingressRecord)]);
          let result = compile(snapshot, options);
          assertSameResult(result, compile(snapshot, options), 0);
          for (const [index, next] of changes.entries()) {
            snapshot = applyChange(snapshot, next).snapshot;
            result = compile(snapshot, options, result);
            assertSameResult(result, compile(snapshot, options), index + 1);
          }
        },
      ),
      { numRuns: 300, seed: Number(process.env.PORTICO_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
    );
  });

  it('re-merges only the hosts of the changed Ingress and keeps every other host entry as it was', () => {
    const records = recordsFromYaml(
      manifests(
        serviceYaml('app'),
        ingressYaml('one', 'one.test', [{ path: '/', service: 'app' }]),
        ingressYaml('two', 'two.test', [{ path: '/', service: 'app' }]),
      ),
    );
    let snapshot = snapshotFromRecords(records);
    const first = compile(snapshot);
    const [edited] = recordsFromYaml(ingressYaml('one', 'one.test', [{ path: '/v2', service: 'app' }]));
    snapshot = applyChange(snapshot, { type: 'upsert', record: edited as ClusterRecord }).snapshot;
    const second = compile(snapshot, DEFAULT_COMPILE_OPTIONS, first);
    assert.equal(
      second.table.exactHosts.get('two.test'),
      first.table.exactHosts.get('two.test'),
      'untouched host reused',
    );
    assert.notEqual(second.table.exactHosts.get('one.test'), first.table.exactHosts.get('one.test'));
    assert.deepEqual(
      second.table.exactHosts.get('one.test')?.routes.map((route) => route.path),
      ['/v2'],
    );
    assertSameResult(second, compile(snapshot), 1);
  });

  it('re-merges a host when the Service of a canary backend on it changes', () => {
    const canary = { [`${NGINX}canary`]: 'true', [`${NGINX}canary-weight`]: '50' };
    let snapshot = snapshotFromRecords(
      recordsFromYaml(
        manifests(
          serviceYaml('app'),
          serviceYaml('next', { port: 80 }),
          ingressYaml('main', 'c.test', [{ path: '/', service: 'app' }]),
          ingressYaml('canary', 'c.test', [{ path: '/', service: 'next' }], canary),
        ),
      ),
    );
    const first = compile(snapshot);
    assert.equal(first.table.exactHosts.get('c.test')?.routes[0]?.canary?.backend.kind, 'service');
    const [renumbered] = recordsFromYaml(serviceYaml('next', { port: 81 }));
    snapshot = applyChange(snapshot, { type: 'upsert', record: renumbered as ClusterRecord }).snapshot;
    const second = compile(snapshot, DEFAULT_COMPILE_OPTIONS, first);
    assert.equal(second.table.exactHosts.get('c.test')?.routes[0]?.canary?.backend.kind, 'unavailable');
    assertSameResult(second, compile(snapshot), 1);
  });
});
