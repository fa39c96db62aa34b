// Reads one Ingress's annotations into route attributes plus diagnostics.

import type { Diagnostic } from '../../model/diagnostic.ts';
import type { IngressRecord } from '../../model/records.ts';
import { CORS_DEFAULTS, type CorsPolicy } from '../../routing/cors-policy.ts';
import { DEFAULT_NEXT_UPSTREAM, type NextUpstreamPolicy } from '../../routing/next-upstream.ts';
import type { RequestLimits, RouteAttributes } from '../../routing/route-table.ts';
import { type AnnotationSpec, NGINX_PREFIX, REFUSED_ANNOTATIONS, ROUTE_ANNOTATIONS } from './annotation-registry.ts';
import { catalogEntry } from './annotation-catalog.ts';
import { parseSelectionAnnotations } from './parse-selection-annotations.ts';
import { readAnnotation } from './read-annotation.ts';

export interface IngressAnnotations {
  readonly attributes: RouteAttributes;
  /** true when this Ingress's paths are regexes (use-regex or an accepted rewrite-target) */
  readonly regexPaths: boolean;
  readonly diagnostics: readonly Diagnostic[];
  /** `default-backend`: the Service name, resolved by compile against the Services */
  readonly defaultBackendService: string | undefined;
}

export function parseRouteAnnotations(ingress: IngressRecord): IngressAnnotations {
  const diagnostics: Diagnostic[] = [];
  const object = `Ingress ${ingress.key}`;
  const read = <T>(spec: AnnotationSpec<T>): T | undefined => readAnnotation(ingress, spec, diagnostics);
  for (const key of Object.keys(ingress.annotations)) {
    if (!key.startsWith(NGINX_PREFIX)) continue;
    const name = key.slice(NGINX_PREFIX.length);
    const entry = catalogEntry(name);
    if (entry === undefined) {
      diagnostics.push({
        object,
        code: 'UnsupportedAnnotation',
        reason: `annotation ${key} is not supported by Portico; it is ignored (see the README's annotation table)`,
      });
    } else if (entry.status === 'unsupported' && !REFUSED_ANNOTATIONS.has(name) && name !== 'auth-url') {
      // (auth-url is not ignored: src/compile/resolve-auth.ts reports it, its paths failing closed.)
      // Catalogued as unsupported with a reason (snippets get theirs below): say it, not silence.
      diagnostics.push({
        object,
        code: 'UnsupportedAnnotation',
        reason: `annotation ${key} is ignored: ${entry.note}`,
      });
    }
  }
  for (const [name, why] of REFUSED_ANNOTATIONS) {
    if (ingress.annotations[NGINX_PREFIX + name] !== undefined) {
      diagnostics.push({
        object,
        code: 'UnsupportedAnnotation',
        reason: `annotation ${NGINX_PREFIX}${name} is ignored: ${why}`,
      });
    }
  }
  const rewriteTarget = read(ROUTE_ANNOTATIONS.rewriteTarget);
  const useRegex = read(ROUTE_ANNOTATIONS.useRegex);
  const bodySize = read(ROUTE_ANNOTATIONS.proxyBodySize);
  const permanentRedirect = read(ROUTE_ANNOTATIONS.permanentRedirect);
  const permanentRedirectCode = read(ROUTE_ANNOTATIONS.permanentRedirectCode) ?? 301;
  const temporalRedirect = read(ROUTE_ANNOTATIONS.temporalRedirect);
  const temporalRedirectCode = read(ROUTE_ANNOTATIONS.temporalRedirectCode) ?? 302;
  // ingress-nginx: permanent-redirect wins over temporal-redirect on the same Ingress.
  const redirect =
    permanentRedirect !== undefined
      ? { status: permanentRedirectCode, location: permanentRedirect }
      : temporalRedirect !== undefined
        ? { status: temporalRedirectCode, location: temporalRedirect }
        : undefined;
  const nextUpstream = readNextUpstream(read);
  const regexPaths = useRegex === true || rewriteTarget !== undefined;
  const whitelist = read(ROUTE_ANNOTATIONS.whitelistSourceRange);
  const allowlist = read(ROUTE_ANNOTATIONS.allowlistSourceRange);
  const cors = readCors(read);
  const attributes: RouteAttributes = Object.freeze({
    rewriteTarget,
    xForwardedPrefix: read(ROUTE_ANNOTATIONS.xForwardedPrefix),
    appRoot: read(ROUTE_ANNOTATIONS.appRoot),
    sslRedirect: read(ROUTE_ANNOTATIONS.sslRedirect) ?? true,
    forceSslRedirect: read(ROUTE_ANNOTATIONS.forceSslRedirect) ?? false,
    upstreamVhost: read(ROUTE_ANNOTATIONS.upstreamVhost),
    backendProtocol: read(ROUTE_ANNOTATIONS.backendProtocol),
    proxySslVerify: read(ROUTE_ANNOTATIONS.proxySslVerify) ?? false,
    proxySslName: read(ROUTE_ANNOTATIONS.proxySslName),
    proxySslSecret: read(ROUTE_ANNOTATIONS.proxySslSecret),
    proxyBodySize: bodySize === 0 ? undefined : bodySize,
    proxyReadTimeoutMs: read(ROUTE_ANNOTATIONS.proxyReadTimeout),
    proxySendTimeoutMs: read(ROUTE_ANNOTATIONS.proxySendTimeout),
    proxyConnectTimeoutMs: read(ROUTE_ANNOTATIONS.proxyConnectTimeout),
    nextUpstream,
    serviceUpstream: read(ROUTE_ANNOTATIONS.serviceUpstream) ?? false,
    redirect,
    // ingress-nginx reads allowlist-source-range, falling back to the old whitelist name.
    allowSourceRanges: allowlist ?? whitelist,
    denySourceRanges: read(ROUTE_ANNOTATIONS.denylistSourceRange),
    // The cors-* values are read (and checked) even while CORS is off, so a typo is reported.
    cors: read(ROUTE_ANNOTATIONS.enableCors) === true ? cors : undefined,
    customHttpErrors: read(ROUTE_ANNOTATIONS.customHttpErrors),
    limits: readLimits(ingress, read),
    ...parseSelectionAnnotations(ingress, regexPaths, diagnostics),
  });
  return {
    attributes,
    regexPaths,
    diagnostics,
    defaultBackendService: read(ROUTE_ANNOTATIONS.defaultBackend),
  };
}

/**
 * The retry policy: each of the three annotations left out keeps Portico's default for its
 * part (DEFAULT_NEXT_UPSTREAM); undefined when none is set.
 */
function readNextUpstream(read: <T>(spec: AnnotationSpec<T>) => T | undefined): NextUpstreamPolicy | undefined {
  const on = read(ROUTE_ANNOTATIONS.proxyNextUpstream);
  const tries = read(ROUTE_ANNOTATIONS.proxyNextUpstreamTries);
  const timeoutMs = read(ROUTE_ANNOTATIONS.proxyNextUpstreamTimeout);
  if (on === undefined && tries === undefined && timeoutMs === undefined) return undefined;
  return Object.freeze({
    on: on ?? DEFAULT_NEXT_UPSTREAM.on,
    tries: tries ?? DEFAULT_NEXT_UPSTREAM.tries,
    timeoutMs: timeoutMs ?? DEFAULT_NEXT_UPSTREAM.timeoutMs,
  });
}

type Reader = <T>(spec: AnnotationSpec<T>) => T | undefined;

/** The `cors-*` annotations (used only with `enable-cors: "true"`); unset ones take ingress-nginx's defaults. */
function readCors(read: Reader): CorsPolicy {
  return Object.freeze({
    origins: read(ROUTE_ANNOTATIONS.corsAllowOrigin) ?? '*',
    allowMethods: read(ROUTE_ANNOTATIONS.corsAllowMethods) ?? CORS_DEFAULTS.allowMethods,
    allowHeaders: read(ROUTE_ANNOTATIONS.corsAllowHeaders) ?? CORS_DEFAULTS.allowHeaders,
    exposeHeaders: read(ROUTE_ANNOTATIONS.corsExposeHeaders),
    allowCredentials: read(ROUTE_ANNOTATIONS.corsAllowCredentials) ?? CORS_DEFAULTS.allowCredentials,
    maxAgeSeconds: read(ROUTE_ANNOTATIONS.corsMaxAge) ?? CORS_DEFAULTS.maxAgeSeconds,
  });
}

/** ingress-nginx: `0` turns a limit off; the burst multiplier defaults to 5. */
const DEFAULT_BURST_MULTIPLIER = 5;

function readLimits(ingress: IngressRecord, read: Reader): RequestLimits | undefined {
  const positive = (value: number | undefined): number | undefined => (value === 0 ? undefined : value);
  const rps = positive(read(ROUTE_ANNOTATIONS.limitRps));
  const rpm = positive(read(ROUTE_ANNOTATIONS.limitRpm));
  const connections = positive(read(ROUTE_ANNOTATIONS.limitConnections));
  const burstMultiplier = read(ROUTE_ANNOTATIONS.limitBurstMultiplier) ?? DEFAULT_BURST_MULTIPLIER;
  // ingress-nginx reads limit-allowlist, falling back to the old limit-whitelist name.
  const allowlist = read(ROUTE_ANNOTATIONS.limitAllowlist);
  const whitelist = read(ROUTE_ANNOTATIONS.limitWhitelist);
  if (rps === undefined && rpm === undefined && connections === undefined) return undefined;
  return Object.freeze({ zone: ingress.key, rps, rpm, burstMultiplier, connections, exempt: allowlist ?? whitelist });
}
