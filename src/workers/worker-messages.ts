// What the primary and its workers say to each other over the node:cluster IPC channel
// (README "Workers"). Sent with `serialization: 'advanced'` (structured clone), so records
// arrive as the same plain data the sources made.

import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ClusterRecord } from '../model/records.ts';
import type { ClusterChange } from '../store/cluster-snapshot.ts';
import type { KeyPair } from '../tls/tls-settings.ts';

export type PrimaryMessage =
  /** answer to `hello`: everything read so far, and the generation the primary's table is at (0: none yet) */
  | {
      readonly type: 'portico:init';
      readonly records: readonly ClusterRecord[];
      readonly generation: number;
      readonly fallbackCertificate: KeyPair;
    }
  /** a batch the primary's source applied, in order */
  | { readonly type: 'portico:changes'; readonly changes: readonly ClusterChange[] }
  /** the primary swapped its table: build now, numbered `generation` */
  | { readonly type: 'portico:build'; readonly generation: number }
  /** stop accepting, let in-flight requests finish within `timeoutMs`, exit 0 */
  | { readonly type: 'portico:drain'; readonly timeoutMs: number }
  | { readonly type: 'portico:metrics-request'; readonly requestId: number };

export type WorkerMessage =
  /** the worker is ready for `init` */
  | { readonly type: 'portico:hello' }
  /** the worker's table generation changed (0: none yet); `listening` once its listeners are open */
  | {
      readonly type: 'portico:table';
      readonly generation: number;
      readonly listening: boolean;
      readonly httpPort: number;
      readonly httpsPort: number;
    }
  /** the worker could not start (a listener failed); it exits 1 */
  | { readonly type: 'portico:failed'; readonly message: string }
  | {
      readonly type: 'portico:metrics';
      readonly requestId: number;
      readonly metrics: readonly MetricObjectWithValues<MetricValue<string>>[];
    };

export function isMessage<T extends { readonly type: string }>(value: unknown): value is T {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('portico:')
  );
}
