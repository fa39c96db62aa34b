// Reads one Ingress's annotations into route attributes plus diagnostics.

import type { Diagnostic } from '../../model/diagnostic.ts';
import type { IngressRecord } from '../../model/records.ts';
import { DEFAULT_NEXT_UPSTREAM, type NextUpstreamPolicy } from '../../routing/next-upstream.ts';
import type { RouteAttributes } from '../../routing/route-table.ts';
import { type AnnotationSpec, NGINX_PREFIX, REFUSED_ANNOTATIONS, ROUTE_ANNOTATIONS } from './annotation-registry.ts';
import { isCatalogued } from './annotation-catalog.ts';
import { readAnnotation } from './read-annotation.ts';

export interface IngressAnnotations {
  readonly attributes: RouteAttributes;
  /** true when this Ingress's paths are regexes (use-regex or an accepted rewrite-target) */
  readonly regexPaths: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

export function parseRouteAnnotations(ingress: IngressRecord): IngressAnnotations {
  const diagnostics: Diagnostic[] = [];
  const object = `Ingress ${ingress.key}`;
  const read = <T>(spec: AnnotationSpec<T>): T | undefined => readAnnotation(ingress, spec, diagnostics);
  for (const key of Object.keys(ingress.annotations)) {
    if (!key.startsWith(NGINX_PREFIX)) continue;
    const name = key.slice(NGINX_PREFIX.length);
    if (!isCatalogued(name)) {
      diagnostics.push({
        object,
        code: 'UnsupportedAnnotation',
        reason: `annotation ${key} is not supported by Portico; it is ignored (see the README's annotation table)`,
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
  const whitelist = read(ROUTE_ANNOTATIONS.whitelistSourceRange);
  const allowlist = read(ROUTE_ANNOTATIONS.allowlistSourceRange);
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
  });
  return {
    attributes,
    regexPaths: useRegex === true || rewriteTarget !== undefined,
    diagnostics,
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
