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
