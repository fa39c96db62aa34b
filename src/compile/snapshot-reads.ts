// What a piece of the compile read from the snapshot's Services and Secrets, so that a later
// compile can tell whether that piece still holds: records are immutable and replaced on every
// change, so the same record object read under the same key means the same input. Keys that
// were read and found nothing count too (a Service created later must rebuild the route).

import type { ObjectKey, SecretRecord, ServiceRecord } from '../model/records.ts';
import type { ClusterSnapshot } from '../store/cluster-snapshot.ts';

/** The one method compile's resolvers use on a snapshot collection. */
export interface RecordLookup<V> {
  get(key: ObjectKey): V | undefined;
}

type ReadCollection = 'services' | 'secrets';

/** flat [collection, key, record, collection, key, record, ...]: one array per reader, not one per read */
export type SnapshotReads = readonly (ReadCollection | ObjectKey | ServiceRecord | SecretRecord | undefined)[];

export const NO_READS: SnapshotReads = Object.freeze([]);

export interface ReadRecorder {
  readonly services: RecordLookup<ServiceRecord>;
  readonly secrets: RecordLookup<SecretRecord>;
  /** what was read so far (NO_READS when nothing was) */
  reads(): SnapshotReads;
}

export function recordReads(snapshot: Pick<ClusterSnapshot, ReadCollection>): ReadRecorder {
  let reads: (ReadCollection | ObjectKey | ServiceRecord | SecretRecord | undefined)[] | undefined;
  const lookup = <V extends ServiceRecord | SecretRecord>(
    collection: ReadCollection,
    map: ReadonlyMap<ObjectKey, V>,
  ): RecordLookup<V> => ({
    get(key) {
      const record = map.get(key);
      reads ??= [];
      for (let index = 0; index < reads.length; index += 3) {
        if (reads[index] === collection && reads[index + 1] === key) return record;
      }
      reads.push(collection, key, record);
      return record;
    },
  });
  return {
    services: lookup('services', snapshot.services),
    secrets: lookup('secrets', snapshot.secrets),
    reads: () => (reads === undefined ? NO_READS : Object.freeze(reads)),
  };
}

/** true when every record read then is still the one the snapshot holds under its key */
export function readsStillHold(reads: SnapshotReads, snapshot: Pick<ClusterSnapshot, ReadCollection>): boolean {
  for (let index = 0; index < reads.length; index += 3) {
    const collection = snapshot[reads[index] as ReadCollection] as ReadonlyMap<ObjectKey, unknown>;
    if (collection.get(reads[index + 1] as ObjectKey) !== reads[index + 2]) return false;
  }
  return true;
}
