// What a source (manifest files today, the Kubernetes watchers tomorrow) feeds: one change
// at a time, then a single `markSynced` once its first full list has been delivered.

import type { ClusterChange } from '../store/cluster-snapshot.ts';

export interface ClusterSink {
  apply(change: ClusterChange): void;
  markSynced(): void;
}
