// The endpoint-selection annotations of one Ingress: `affinity: cookie` with its
// `session-cookie-*` family, `upstream-hash-by` and `load-balance` (ingress-nginx
// docs/user-guide/nginx-configuration/annotations.md, docs/examples/affinity/cookie).
//
// Precedence per request, as ingress-nginx's balancer.lua for the first two: cookie affinity,
// then upstream-hash-by, then the Service's `sessionAffinity: ClientIP` (which ingress-nginx
// does not read; the Ingress's explicit choice is the more specific one), then `load-balance`,
// then the global `--load-balance`. A canary Ingress's own values apply to its backend
// (ingress-nginx: the only non-canary annotations a canary keeps).

import type { Diagnostic } from '../../model/diagnostic.ts';
import type { IngressRecord } from '../../model/records.ts';
import type { SelectionAttributes, SessionCookieSettings } from '../../routing/route-table.ts';
import { type AnnotationSpec, NGINX_PREFIX, SELECTION_ANNOTATIONS as A } from './annotation-registry.ts';
import { readAnnotation } from './read-annotation.ts';

/** `affinity: cookie` with nothing else set: ingress-nginx's defaults. */
export const SESSION_COOKIE_DEFAULTS: SessionCookieSettings = Object.freeze({
  name: 'INGRESSCOOKIE',
  mode: 'balanced',
  path: undefined,
  domain: undefined,
  maxAgeSeconds: undefined,
  expiresSeconds: undefined,
  sameSite: undefined,
  conditionalSameSiteNone: false,
  secure: false,
  changeOnFailure: false,
});

export function parseSelectionAnnotations(
  ingress: IngressRecord,
  regexPaths: boolean,
  diagnostics: Diagnostic[],
): SelectionAttributes {
  const read = <T>(spec: AnnotationSpec<T>): T | undefined => readAnnotation(ingress, spec, diagnostics);
  // Every value is checked, affinity or not, so a typo is reported rather than lying in wait.
  const affinity = read(A.affinity);
  const cookie: SessionCookieSettings = {
    name: read(A.cookieName) ?? SESSION_COOKIE_DEFAULTS.name,
    mode: read(A.affinityMode) ?? SESSION_COOKIE_DEFAULTS.mode,
    path: read(A.cookiePath),
    domain: read(A.cookieDomain),
    maxAgeSeconds: read(A.cookieMaxAge),
    expiresSeconds: read(A.cookieExpires),
    sameSite: read(A.cookieSameSite),
    conditionalSameSiteNone: read(A.cookieConditionalSameSiteNone) ?? SESSION_COOKIE_DEFAULTS.conditionalSameSiteNone,
    secure: read(A.cookieSecure) ?? SESSION_COOKIE_DEFAULTS.secure,
    changeOnFailure: read(A.cookieChangeOnFailure) ?? SESSION_COOKIE_DEFAULTS.changeOnFailure,
  };
  if (affinity === 'cookie' && cookie.path === undefined && regexPaths) {
    // ingress-nginx requires it: the default Path would be the regex itself.
    diagnostics.push({
      object: `Ingress ${ingress.key}`,
      code: 'IncompleteAnnotation',
      reason: `affinity: cookie on an Ingress with regex paths needs ${NGINX_PREFIX}session-cookie-path; the cookie gets Path=/`,
    });
  }
  return {
    sessionCookie: affinity === 'cookie' ? Object.freeze(cookie) : undefined,
    upstreamHashBy: read(A.upstreamHashBy),
    loadBalance: read(A.loadBalance),
  };
}
