// An immutable view of every object Portico has read. `applyChange` returns a new snapshot
// (structural sharing per kind) and says whether the change can alter routing, so that
// EndpointSlice-only changes skip the compile (ARCHITECTURE.md data flow), and so do Ingress
// updates that change only the Ingress's status and changes to Secrets no Ingress names.
// A change copies the collection of its kind, except EndpointSlices: they change most often and
// never recompile, so their collection is a LayeredMap and a slice change costs O(√slices)
// instead of a copy of every slice (an O(all Services) step on the endpoint path).

import { isDeepStrictEqual } from 'node:util';
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
import { authSecretKeyOf } from '../compile/resolve-auth.ts';
import { LayeredMap, type LayeredMapDraft } from './layered-map.ts';

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
  /** true when the change may alter the compiled routes (anything but EndpointSlices and Ingress status) */
  readonly routesChanged: boolean;
  readonly endpointsChanged: boolean;
}

export const EMPTY_SNAPSHOT: ClusterSnapshot = Object.freeze({
  ingresses: new Map(),
  ingressClasses: new Map(),
  services: new Map(),
  endpointSlices: new LayeredMap<ObjectKey, EndpointSliceRecord>(),
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
  const copies = new Map<CollectionName, EditableCollection>();
  let stored = false;
  let routesChanged = false;
  let endpointsChanged = false;
  /** Secret changes wait for the end of the batch: whether they matter depends on the Ingresses. */
  const changedSecrets: (SecretRecord | undefined)[] = [];
  const changedSecretKeys: ObjectKey[] = [];
  for (const change of changes) {
    const kind = change.type === 'upsert' ? change.record.kind : change.kind;
    const collectionName = COLLECTION_OF[kind];
    let collection = copies.get(collectionName);
    if (!collection) {
      collection = editCollection(snapshot[collectionName] as ReadonlyMap<ObjectKey, ClusterRecord>);
      copies.set(collectionName, collection);
    }
    let previous: ClusterRecord | undefined;
    if (change.type === 'upsert') {
      previous = collection.get(change.record.key);
      if (previous === change.record) continue;
      collection.set(change.record.key, change.record);
    } else {
      previous = collection.get(change.key);
      if (!collection.delete(change.key)) continue;
    }
    stored = true;
    if (kind === 'EndpointSlice') endpointsChanged = true;
    else if (kind === 'Secret') {
      // Whether it matters depends on the Ingresses, known at the end of the batch.
      if (!routesChanged) {
        changedSecrets.push(previous as SecretRecord | undefined);
        if (change.type === 'upsert') changedSecrets.push(change.record as SecretRecord);
        changedSecretKeys.push(change.type === 'upsert' ? change.record.key : change.key);
      }
    } else if (!routesChanged && !isStatusOnlyUpdate(previous, change)) routesChanged = true;
  }
  if (!stored) return { snapshot, routesChanged, endpointsChanged };
  const frozen = [...copies].map(([name, collection]) => [
    name,
    'freeze' in collection ? collection.freeze() : collection,
  ]);
  const next: ClusterSnapshot = Object.freeze({ ...snapshot, ...Object.fromEntries(frozen) });
  if (!routesChanged && changedSecretKeys.length > 0) {
    routesChanged =
      changedSecrets.some((secret) => secret?.type === TLS_SECRET_TYPE) ||
      changedSecretKeys.some((key) => referencedSecrets(next.ingresses).has(key));
  }
  return { snapshot: next, routesChanged, endpointsChanged };
}

type EditableCollection = Map<ObjectKey, ClusterRecord> | LayeredMapDraft<ObjectKey, ClusterRecord>;

/** A LayeredMap is edited through its overlay; any other collection is copied whole. */
function editCollection(collection: ReadonlyMap<ObjectKey, ClusterRecord>): EditableCollection {
  return collection instanceof LayeredMap ? collection.edit() : new Map(collection);
}

/**
 * An Ingress update that differs from the stored record only in `statusAddresses`. compile never
 * reads an Ingress's status (the status writer does, from the snapshot, so the record is still
 * stored); without this, each status the leader writes comes back through the watch and rebuilds
 * the whole table, once per Ingress at start. A Service's status is not treated so: its
 * load-balancer addresses are what --publish-service copies into Ingress status.
 */
function isStatusOnlyUpdate(previous: ClusterRecord | undefined, change: ClusterChange): boolean {
  if (change.type !== 'upsert' || change.record.kind !== 'Ingress' || previous?.kind !== 'Ingress') return false;
  return isDeepStrictEqual({ ...previous, statusAddresses: [] }, { ...change.record, statusAddresses: [] });
}

export function applyChange(snapshot: ClusterSnapshot, change: ClusterChange): AppliedChange {
  return applyChanges(snapshot, [change]);
}

const TLS_SECRET_TYPE = 'kubernetes.io/tls';
const PROXY_SSL_SECRET = 'nginx.ingress.kubernetes.io/proxy-ssl-secret';
const referencedByIngresses = new WeakMap<ReadonlyMap<ObjectKey, IngressRecord>, ReadonlySet<ObjectKey>>();

/**
 * Secrets an Ingress names in an annotation (auth-secret, proxy-ssl-secret). Portico watches
 * every Opaque Secret for these, so a change to any other non-TLS Secret (an application's
 * own) is stored but does not recompile. TLS Secrets always recompile, as before: the default
 * certificate and spec.tls name them, and they are few.
 */
function referencedSecrets(ingresses: ReadonlyMap<ObjectKey, IngressRecord>): ReadonlySet<ObjectKey> {
  let keys = referencedByIngresses.get(ingresses);
  if (keys) return keys;
  const found = new Set<ObjectKey>();
  for (const ingress of ingresses.values()) {
    const auth = authSecretKeyOf(ingress);
    if (auth !== undefined) found.add(auth);
    const proxySsl = ingress.annotations[PROXY_SSL_SECRET];
    if (proxySsl !== undefined) found.add(proxySsl.trim());
  }
  keys = found;
  referencedByIngresses.set(ingresses, keys);
  return keys;
}
