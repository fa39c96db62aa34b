// The oldest-wins order of ROUTING.md section 4: creationTimestamp ascending; on equal
// timestamps the `namespace/name` that sorts last in byte order comes first (ingress-nginx's
// sortIngressSlice). An Ingress without a timestamp sorts after every dated one.

import type { IngressRecord } from '../model/records.ts';

/** parsed once per (deep-frozen) record, not twice per comparison of the sort */
const timestamps = new WeakMap<IngressRecord, number>();

function timestampOf(ingress: IngressRecord): number {
  let timestamp = timestamps.get(ingress);
  if (timestamp === undefined) {
    const parsed = ingress.creationTimestamp === undefined ? Number.NaN : Date.parse(ingress.creationTimestamp);
    timestamp = Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
    timestamps.set(ingress, timestamp);
  }
  return timestamp;
}

export function compareIngressAge(a: IngressRecord, b: IngressRecord): number {
  const byTime = timestampOf(a) - timestampOf(b);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.key > b.key ? -1 : a.key < b.key ? 1 : 0;
}
