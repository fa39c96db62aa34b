// Property: for random Ingress sets and random requests, the trie-based matcher and the
// slow reference matcher pick the same route, default backend or 404.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { compile } from '../../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import type { IngressRecord } from '../../src/model/records.ts';
import { normalizeObject } from '../../src/normalize/normalize-object.ts';
import { matchRequest } from '../../src/routing/match-request.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { describeMatch } from '../support/describe-match.ts';
import { referenceMatch } from '../support/reference-matcher.ts';

// Small alphabets so random paths and requests collide often enough to be interesting.
const segment = fc.constantFrom('a', 'b', 'aa', 'ab', 'api', 'v1');
const literalPath = fc
  .tuple(fc.array(segment, { maxLength: 3 }), fc.boolean())
  .map(([segments, trailing]) => `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`);
const regexPath = fc.constantFrom(
  '/a(/|$)(.*)',
  '/[ab]+',
  '/api/v[0-9]',
  '/a.*',
  '/(aa|ab)/b',
  '/v1$',
  '/a/.',
  '/ab?',
  '/aa',
);
const host = fc.constantFrom('x.test', 'y.test', '*.test', '*.x.test', '');
const pathType = fc.constantFrom('Exact', 'Prefix', 'ImplementationSpecific');

const ingressArbitrary = fc.record({
  regex: fc.boolean(),
  defaultBackend: fc.boolean(),
  age: fc.integer({ min: 0, max: 5 }),
  rules: fc.array(
    fc.record({
      host,
      paths: fc.array(
        fc.record({ pathType, literal: literalPath, regex: regexPath, port: fc.integer({ min: 1, max: 9 }) }),
        {
          maxLength: 4,
        },
      ),
    }),
    { maxLength: 3 },
  ),
});

type IngressSpec = typeof ingressArbitrary extends fc.Arbitrary<infer T> ? T : never;

function toRecord(spec: IngressSpec, index: number): IngressRecord {
  const raw = {
    kind: 'Ingress',
    metadata: {
      name: `ing-${index}`,
      namespace: 'default',
      creationTimestamp: new Date(Date.UTC(2026, 0, 1 + spec.age)).toISOString(),
      annotations: spec.regex ? { 'nginx.ingress.kubernetes.io/use-regex': 'true' } : {},
    },
    spec: {
      defaultBackend: spec.defaultBackend ? { service: { name: 'svc', port: { number: 99 } } } : undefined,
      rules: spec.rules.map((rule) => ({
        host: rule.host || undefined,
        http: {
          paths: rule.paths.map((path) => ({
            path: spec.regex ? path.regex : path.literal,
            pathType: path.pathType,
            backend: { service: { name: 'svc', port: { number: path.port } } },
          })),
        },
      })),
    },
  };
  const normalized = normalizeObject(raw);
  assert.ok(normalized.ok);
  return normalized.record as IngressRecord;
}

const requestHost = fc.constantFrom('x.test', 'y.test', 'z.test', 'a.x.test', 'a.b.x.test', 'other.org', '');
const requestPath = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'aa', 'ab', 'api', 'v1', 'v2', 'A', 'AA'), { maxLength: 4 }), fc.boolean())
  .map(([segments, trailing]) => `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`);

it('trie and reference matcher agree on random tables and requests', () => {
  fc.assert(
    fc.property(
      fc.array(ingressArbitrary, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(requestHost, requestPath), { minLength: 1, maxLength: 30 }),
      (ingresses, requests) => {
        const snapshot = snapshotFromRecords(ingresses.map(toRecord));
        const { table } = compile(snapshot, { ...DEFAULT_COMPILE_OPTIONS, watchIngressWithoutClass: true });
        for (const [hostName, path] of requests) {
          assert.equal(
            describeMatch(matchRequest(table, hostName, path)),
            describeMatch(referenceMatch(table, hostName, path)),
          );
        }
      },
    ),
    { numRuns: 1000, seed: Number(process.env.PORTICO_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
  );
});
