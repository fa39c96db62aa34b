// Service `sessionAffinity: ClientIP`: the same client address reaches the same endpoint while
// that endpoint is ready. Rendezvous (highest-random-weight) hashing, so adding or removing
// one endpoint moves only the clients that endpoint gains or loses, not everyone.

import type { EndpointPicker, PickRequest } from './endpoint-picker.ts';
import type { Endpoint } from './service-endpoints.ts';

/** FNV-1a over both strings, then a murmur3 finalizer so near-identical inputs spread apart. */
export function affinityWeight(clientIp: string, endpointId: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < clientIp.length; index++) {
    hash = Math.imul(hash ^ clientIp.charCodeAt(index), 0x01000193);
  }
  hash = Math.imul(hash ^ 0xff, 0x01000193);
  for (let index = 0; index < endpointId.length; index++) {
    hash = Math.imul(hash ^ endpointId.charCodeAt(index), 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export function createClientIpAffinityPicker(): EndpointPicker {
  return {
    pick(_key: string, { candidates, clientIp, avoidId }: PickRequest): Endpoint | undefined {
      let best: Endpoint | undefined;
      let bestWeight = -1;
      for (const endpoint of candidates) {
        if (endpoint.id === avoidId) continue;
        const weight = affinityWeight(clientIp, endpoint.id);
        if (weight > bestWeight || (weight === bestWeight && best !== undefined && endpoint.id < best.id)) {
          best = endpoint;
          bestWeight = weight;
        }
      }
      return best;
    },
    onStart() {},
    onEnd() {},
    retain() {},
  };
}
