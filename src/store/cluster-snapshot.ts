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
  let snapshot = EMPTY_SNAPSHOT;
  for (const record of records) snapshot = applyChange(snapshot, { type: 'upsert', record }).snapshot;
  return snapshot;
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
