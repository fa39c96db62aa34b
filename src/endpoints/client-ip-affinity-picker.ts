// Service `sessionAffinity: ClientIP`: the same client address reaches the same endpoint while
// that endpoint is ready. Rendezvous hashing (rendezvous-hash.ts), so adding or removing one
// endpoint moves only the clients that endpoint gains or loses, not everyone.

import type { EndpointPicker, PickRequest } from './endpoint-picker.ts';
import { hashKey, rendezvousPick } from './rendezvous-hash.ts';
import type { Endpoint } from './service-endpoints.ts';

export function createClientIpAffinityPicker(): EndpointPicker {
  return {
    pick(_key: string, { candidates, clientIp, avoidId }: PickRequest): Endpoint | undefined {
      return rendezvousPick(candidates, hashKey(clientIp), avoidId);
    },
    onStart() {},
    onEnd() {},
    retain() {},
  };
}
