// An immutable view of every object Portico has read. `applyChange` returns a new snapshot
// (structural sharing per kind) and says whether the change can alter routing, so that
// EndpointSlice-only changes skip the compile (ARCHITECTURE.md data flow).

import type {
  ClusterRecord,
  ClusterRecordKind,
  EndpointSliceRecord,
  IngressClassRecord,
  IngressRecord,
  ObjectKey,
  SecretRecord,
  ServiceRecord,
} from '../model/records.ts';

export interface ClusterSnapshot {
  readonly ingresses: ReadonlyMap<ObjectKey, IngressRecord>;
  readonly ingressClasses: ReadonlyMap<ObjectKey, IngressClassRecord>;
  readonly services: ReadonlyMap<ObjectKey, ServiceRecord>;
  readonly endpointSlices: ReadonlyMap<ObjectKey, EndpointSliceRecord>;
  readonly secrets: ReadonlyMap<ObjectKey, SecretRecord>;
}

export type ClusterChange =
  | { readonly type: 'upsert'; readonly record: ClusterRecord }
  | { readonly type: 'delete'; readonly kind: ClusterRecordKind; readonly key: ObjectKey };

export interface AppliedChange {
  readonly snapshot: ClusterSnapshot;
  /** true when the change may alter the compiled routes (anything but EndpointSlices) */
  readonly routesChanged: boolean;
  readonly endpointsChanged: boolean;
}

export const EMPTY_SNAPSHOT: ClusterSnapshot = Object.freeze({
  ingresses: new Map(),
  ingressClasses: new Map(),
  services: new Map(),
  endpointSlices: new Map(),
  secrets: new Map(),
});

type CollectionName = keyof ClusterSnapshot;

const COLLECTION_OF: Readonly<Record<ClusterRecordKind, CollectionName>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
};

export function snapshotFromRecords(records: Iterable<ClusterRecord>): ClusterSnapshot {
  const changes: ClusterChange[] = [];
  for (const record of records) changes.push({ type: 'upsert', record });
  return applyChanges(EMPTY_SNAPSHOT, changes).snapshot;
}

/**
 * Applies a batch with one copy per touched kind. Applying changes one at a time copies a
 * collection per change, which is quadratic over an initial list of thousands of objects:
 * callers with more than one change (initial lists, debounced bursts) use this.
 */
export function applyChanges(snapshot: ClusterSnapshot, changes: Iterable<ClusterChange>): AppliedChange {
  const copies = new Map<CollectionName, Map<ObjectKey, ClusterRecord>>();
  let routesChanged = false;
  let endpointsChanged = false;
  for (const change of changes) {
    const kind = change.type === 'upsert' ? change.record.kind : change.kind;
    const collectionName = COLLECTION_OF[kind];
    let collection = copies.get(collectionName);
    if (!collection) {
      collection = new Map(snapshot[collectionName] as ReadonlyMap<ObjectKey, ClusterRecord>);
      copies.set(collectionName, collection);
    }
    let changed: boolean;
    if (change.type === 'upsert') {
      changed = collection.get(change.record.key) !== change.record;
      if (changed) collection.set(change.record.key, change.record);
    } else {
      changed = collection.delete(change.key);
    }
    if (!changed) continue;
    if (kind === 'EndpointSlice') endpointsChanged = true;
    else routesChanged = true;
  }
  if (!routesChanged && !endpointsChanged) return { snapshot, routesChanged, endpointsChanged };
  return { snapshot: Object.freeze({ ...snapshot, ...Object.fromEntries(copies) }), routesChanged, endpointsChanged };
}

export function applyChange(snapshot: ClusterSnapshot, change: ClusterChange): AppliedChange {
  const kind = change.type === 'upsert' ? change.record.kind : change.kind;
  const key = change.type === 'upsert' ? change.record.key : change.key;
  const collectionName = COLLECTION_OF[kind];
  const current = snapshot[collectionName] as ReadonlyMap<ObjectKey, ClusterRecord>;
  if (change.type === 'delete' && !current.has(key)) {
    return { snapshot, routesChanged: false, endpointsChanged: false };
  }
  const next = new Map(current);
  if (change.type === 'upsert') next.set(key, change.record);
  else next.delete(key);
  const isEndpoints = kind === 'EndpointSlice';
  return {
    snapshot: Object.freeze({ ...snapshot, [collectionName]: next }),
    routesChanged: !isEndpoints,
    endpointsChanged: isEndpoints,
  };
}
