// Which backend a request for a route with a canary goes to, in ingress-nginx's order
// (rootfs/etc/nginx/lua/balancer.lua): the header, then the cookie, then the weight.
// Pure: the dice roll is the caller's, so `portico explain` can decline to roll.

import type { CanaryRule } from './route-table.ts';

/** `weighted`: neither header nor cookie decided, and 0 < weight < total */
export type CanaryVerdict = 'canary' | 'main' | 'weighted';

export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const equals = part.indexOf('=');
    if (equals !== -1 && part.slice(0, equals).trim() === name) return part.slice(equals + 1).trim();
  }
  return undefined;
}

export function canaryVerdict(canary: CanaryRule, header: (name: string) => string | undefined): CanaryVerdict {
  if (canary.byHeader) {
    const value = header(canary.byHeader);
    if (value !== undefined) {
      // With a value or a pattern configured, only a match counts; "always"/"never" are then
      // ordinary values that fall through (ingress-nginx semantics).
      if (canary.byHeaderValue !== undefined) {
        if (value === canary.byHeaderValue) return 'canary';
      } else if (canary.byHeaderPattern) {
        if (canary.byHeaderPattern.test(value)) return 'canary';
      } else if (value === 'always') {
        return 'canary';
      } else if (value === 'never') {
        return 'main';
      }
    }
  }
  if (canary.byCookie) {
    const value = readCookie(header('cookie'), canary.byCookie);
    if (value === 'always') return 'canary';
    if (value === 'never') return 'main';
  }
  if (canary.weight <= 0) return 'main';
  if (canary.weight >= canary.weightTotal) return 'canary';
  return 'weighted';
}

/** `random` in [0, 1): the canary gets `weight` out of `weightTotal` of such rolls. */
export function rollCanary(canary: CanaryRule, random: number): boolean {
  return random * canary.weightTotal < canary.weight;
}
