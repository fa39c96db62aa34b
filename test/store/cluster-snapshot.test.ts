import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterRecord } from '../../src/model/records.ts';
import { normalizeObject } from '../../src/normalize/normalize-object.ts';
import { applyChange, applyChanges, EMPTY_SNAPSHOT, snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';

function record(raw: unknown): ClusterRecord {
  const normalized = normalizeObject(raw);
  assert.ok(normalized.ok);
  return normalized.record;
}

const service = record({ kind: 'Service', metadata: { name: 'a', namespace: 'x' }, spec: { ports: [{ port: 80 }] } });
const slice = record({
  kind: 'EndpointSlice',
  metadata: { name: 'a-1', namespace: 'x', labels: { 'kubernetes.io/service-name': 'a' } },
});

describe('cluster snapshot', () => {
  it('never mutates the snapshot it was given', () => {
    const before = snapshotFromRecords([service]);
    const after = applyChange(before, { type: 'delete', kind: 'Service', key: 'x/a' }).snapshot;
    assert.equal(before.services.size, 1);
    assert.equal(after.services.size, 0);
    assert.ok(Object.isFrozen(before));
  });

  it('tells route changes from endpoint-only changes', () => {
    assert.deepEqual(
      [applyChange(EMPTY_SNAPSHOT, { type: 'upsert', record: slice })].map((r) => [
        r.routesChanged,
        r.endpointsChanged,
      ]),
      [[false, true]],
    );
    const batch = applyChanges(EMPTY_SNAPSHOT, [
      { type: 'upsert', record: slice },
      { type: 'upsert', record: service },
    ]);
    assert.deepEqual([batch.routesChanged, batch.endpointsChanged], [true, true]);
  });

  it('reports no change for deleting what is absent or re-applying the same record', () => {
    const snapshot = snapshotFromRecords([service]);
    const same = applyChanges(snapshot, [
      { type: 'upsert', record: service },
      { type: 'delete', kind: 'Ingress', key: 'x/none' },
    ]);
    assert.equal(same.snapshot, snapshot);
    assert.deepEqual([same.routesChanged, same.endpointsChanged], [false, false]);
  });
});

describe('cluster snapshot: what counts as a route change', () => {
  const ingress = (status: unknown, host = 'a.example') =>
    record({
      kind: 'Ingress',
      metadata: { name: 'web', namespace: 'x', annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } },
      spec: {
        rules: [
          {
            host,
            http: {
              paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }],
            },
          },
        ],
      },
      status,
    });

  // The status writer's own write comes back through the watch as an Ingress update that
  // changes nothing compile reads; it used to rebuild the whole table once per written Ingress.
  it('an Ingress update that changes only its status is stored, but is no route change', () => {
    const before = snapshotFromRecords([service, ingress({})]);
    const written = ingress({ loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } });
    const applied = applyChanges(before, [{ type: 'upsert', record: written }]);
    assert.deepEqual([applied.routesChanged, applied.endpointsChanged], [false, false]);
    // status-writer plans from the snapshot's statuses: the new one must be there
    assert.equal(applied.snapshot.ingresses.get('x/web'), written);
    assert.equal(before.ingresses.get('x/web')?.statusAddresses.length, 0);
  });

  it('an Ingress update that changes its spec as well as its status is a route change', () => {
    const before = snapshotFromRecords([service, ingress({})]);
    const edited = ingress({ loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } }, 'b.example');
    assert.equal(applyChanges(before, [{ type: 'upsert', record: edited }]).routesChanged, true);
    assert.equal(applyChange(before, { type: 'upsert', record: edited }).routesChanged, true);
  });

  it('a new Ingress is a route change, whatever its status', () => {
    const written = ingress({ loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } });
    assert.equal(
      applyChanges(snapshotFromRecords([service]), [{ type: 'upsert', record: written }]).routesChanged,
      true,
    );
  });
});

describe('Secret relevance', () => {
  const ingress = record({
    kind: 'Ingress',
    metadata: {
      name: 'web',
      namespace: 'x',
      annotations: {
        'nginx.ingress.kubernetes.io/auth-type': 'basic',
        'nginx.ingress.kubernetes.io/auth-secret': 'users',
      },
    },
  });
  const opaque = (name: string, auth: string): ClusterRecord =>
    record({ kind: 'Secret', metadata: { name, namespace: 'x' }, type: 'Opaque', stringData: { auth } });
  const tls = record({ kind: 'Secret', metadata: { name: 'cert', namespace: 'x' }, type: 'kubernetes.io/tls' });

  it('recompiles for a Secret an Ingress names, or any TLS Secret, but only stores other Opaque ones', () => {
    const base = snapshotFromRecords([ingress]);
    const named = applyChange(base, { type: 'upsert', record: opaque('users', 'a:{PLAIN}b') });
    assert.equal(named.routesChanged, true);
    const unrelated = applyChange(named.snapshot, { type: 'upsert', record: opaque('app-config', 'x') });
    assert.equal(unrelated.routesChanged, false);
    assert.equal(unrelated.snapshot.secrets.has('x/app-config'), true, 'stored all the same');
    assert.equal(
      applyChange(unrelated.snapshot, { type: 'delete', kind: 'Secret', key: 'x/app-config' }).routesChanged,
      false,
    );
    assert.equal(
      applyChange(unrelated.snapshot, { type: 'delete', kind: 'Secret', key: 'x/users' }).routesChanged,
      true,
    );
    assert.equal(applyChange(base, { type: 'upsert', record: tls }).routesChanged, true);
    // The Ingress arriving later in the same batch makes its Secret relevant.
    const batch = applyChanges(EMPTY_SNAPSHOT, [
      { type: 'upsert', record: opaque('users', 'a:{PLAIN}b') },
      { type: 'upsert', record: ingress },
    ]);
    assert.equal(batch.routesChanged, true);
  });

  it('keeps only the keys of an Opaque Secret that Portico can use', () => {
    const secret = record({
      kind: 'Secret',
      metadata: { name: 's', namespace: 'x' },
      type: 'Opaque',
      data: {
        auth: Buffer.from('a:{PLAIN}b').toString('base64'),
        'db-password': Buffer.from('hunter2').toString('base64'),
      },
      stringData: { carol: '$apr1$Xy7s9QqZ$u5FHivKLm2VO5bldR.Yhd/', 'config.json': '{"big": true}' },
    });
    assert.ok(secret.kind === 'Secret');
    assert.deepEqual({ ...secret.data }, { auth: 'a:{PLAIN}b', carol: '$apr1$Xy7s9QqZ$u5FHivKLm2VO5bldR.Yhd/' });
  });
});

describe('EndpointSlice changes cost what changed', () => {
  it('a slice change does not copy every slice of the snapshot', () => {
    const sliceOf = (index: number, address: string) =>
      record({
        kind: 'EndpointSlice',
        metadata: { name: `s${index}-1`, namespace: 'x', labels: { 'kubernetes.io/service-name': `s${index}` } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [address] }],
      });
    const size = 5_000;
    let snapshot = snapshotFromRecords(Array.from({ length: size }, (_, index) => sliceOf(index, '10.0.0.1')));
    const changes = 200;
    const records = Array.from({ length: changes }, (_, index) => sliceOf(index, '10.0.0.2'));
    // Every Map entry written while the changes apply, copies included: `new Map(map)` calls
    // `Map.prototype.set` once per entry when `set` is not the built-in one.
    let written = 0;
    const builtinSet = Map.prototype.set;
    Map.prototype.set = function countedSet(this: Map<unknown, unknown>, key: unknown, value: unknown) {
      written++;
      return builtinSet.call(this, key, value);
    };
    try {
      for (const next of records) {
        const applied = applyChange(snapshot, { type: 'upsert', record: next });
        assert.deepEqual([applied.routesChanged, applied.endpointsChanged], [false, true]);
        snapshot = applied.snapshot;
      }
    } finally {
      Map.prototype.set = builtinSet;
    }
    // A copy of the collection per change would be changes × size = 1,000,000 entries.
    assert.ok(written < 10 * size, `${written} Map entries written for ${changes} changes of ${size} slices`);
    assert.equal(snapshot.endpointSlices.size, size);
    assert.deepEqual(snapshot.endpointSlices.get('x/s7-1')?.endpoints[0]?.addresses, ['10.0.0.2']);
    assert.deepEqual(snapshot.endpointSlices.get('x/s4999-1')?.endpoints[0]?.addresses, ['10.0.0.1']);
  });
});
