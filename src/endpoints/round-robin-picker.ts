// Round-robin over the ready endpoints of each set: ingress-nginx's default (`load-balance:
// round_robin`). One counter per set. A retry takes the next endpoint other than the one it is
// moving away from without using up a turn, so a failing endpoint does not skew the rotation.

import type { EndpointPicker, PickRequest } from './endpoint-picker.ts';
import type { Endpoint } from './service-endpoints.ts';

export function createRoundRobinPicker(): EndpointPicker {
  const next = new Map<string, number>();
  return {
    pick(key: string, { candidates, avoidId }: PickRequest): Endpoint | undefined {
      const count = candidates.length;
      if (count === 0) return undefined;
      const turn = next.get(key) ?? 0;
      if (avoidId === undefined) next.set(key, turn + 1 >= Number.MAX_SAFE_INTEGER ? 0 : turn + 1);
      for (let offset = 0; offset < count; offset++) {
        const endpoint = candidates[(turn + offset) % count];
        if (endpoint && endpoint.id !== avoidId) return endpoint;
      }
      return undefined;
    },
    onStart() {},
    onEnd() {},
    retain() {},
  };
}
