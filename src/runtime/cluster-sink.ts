// What a source (manifest files or the Kubernetes watchers) feeds: changes, one at a time or
// in batches, then a single `markSynced` once its first full list has been delivered.

import type { ClusterChange } from '../store/cluster-snapshot.ts';

export interface ClusterSink {
  apply(change: ClusterChange): void;
  /** a batch (an initial list, a relist's difference): one snapshot copy for all of it */
  applyChanges(changes: readonly ClusterChange[]): void;
  markSynced(): void;
}
