// Non-regex path validation, as the API server validates Exact/Prefix paths
// (pkg/apis/networking/validation validateHTTPIngressPath); ImplementationSpecific is
// treated as Prefix here, so it gets the same checks.

import type { IngressPathType } from '../routing/route-table.ts';

export type PathCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export const MAX_PATH_LENGTH = 2048;
const PATH_TYPES: readonly string[] = ['Exact', 'Prefix', 'ImplementationSpecific'];
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

export function isPathType(value: string | undefined): value is IngressPathType {
  return value !== undefined && PATH_TYPES.includes(value);
}

export function validateLiteralPath(path: string): PathCheck {
  if (path.length > MAX_PATH_LENGTH) return { ok: false, reason: `path is longer than ${MAX_PATH_LENGTH} characters` };
  if (!path.startsWith('/')) return { ok: false, reason: `path ${JSON.stringify(path)} does not start with /` };
  if (!PATH_CHARS.test(path))
    return { ok: false, reason: `path ${JSON.stringify(path)} has characters that are not allowed in a URL path` };
  for (const bad of ['//', '/./', '/../', '%2f', '%2F']) {
    if (path.includes(bad)) return { ok: false, reason: `path ${JSON.stringify(path)} must not contain ${bad}` };
  }
  if (path.endsWith('/..') || path.endsWith('/.'))
    return { ok: false, reason: `path ${JSON.stringify(path)} must not end in a dot-segment` };
  return { ok: true };
}
