// Rendezvous (highest-random-weight) hashing over an endpoint set, for `upstream-hash-by` and
// for `affinity-mode: balanced` sessions. Each key goes to the endpoint with the highest
// weight(key, endpoint); removing an endpoint moves only the keys it held, adding one moves only
// the keys it now wins (about 1/n), which is the minimal movement consistent hashing promises,
// without a ketama ring's virtual nodes to size and rebuild.
//
// Hot path: the endpoint half of every weight is precomputed once per endpoint list (the
// endpoint view keeps a list until the Service's slices change), so a request hashes its key
// once and then does a few integer operations per endpoint, allocating nothing.

import type { Endpoint } from './service-endpoints.ts';

/** murmur3's 32-bit finalizer: every input bit flips about half the output bits. */
function mix32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** FNV-1a over the UTF-16 code units, then the finalizer so near-identical keys spread apart. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  }
  return mix32(hash);
}

const seedCache = new WeakMap<readonly Endpoint[], Uint32Array>();

/** One seed per endpoint, derived from its `ip:port` so every replica computes the same. */
function seedsOf(endpoints: readonly Endpoint[]): Uint32Array {
  let seeds = seedCache.get(endpoints);
  if (seeds === undefined) {
    seeds = new Uint32Array(endpoints.length);
    for (let index = 0; index < endpoints.length; index++) seeds[index] = hashKey((endpoints[index] as Endpoint).id);
    seedCache.set(endpoints, seeds);
  }
  return seeds;
}

/**
 * The endpoint with the highest weight for `keyHash`, skipping `avoid` (the endpoint, or the
 * endpoints, a retry is moving away from); ties (vanishingly rare) go to the lower `ip:port`, which the list is sorted by.
 */
export function rendezvousPick(
  endpoints: readonly Endpoint[],
  keyHash: number,
  avoid: string | ReadonlySet<string> | undefined,
): Endpoint | undefined {
  const seeds = seedsOf(endpoints);
  let best: Endpoint | undefined;
  let bestWeight = -1;
  for (let index = 0; index < endpoints.length; index++) {
    const endpoint = endpoints[index] as Endpoint;
    if (avoid !== undefined && (typeof avoid === 'string' ? endpoint.id === avoid : avoid.has(endpoint.id))) continue;
    // Two rounds of mixing so weights for one key are independent across endpoint seeds.
    const weight = mix32(mix32(keyHash ^ (seeds[index] as number)) ^ 0x9e3779b9);
    if (weight > bestWeight) {
      best = endpoint;
      bestWeight = weight;
    }
  }
  return best;
}
