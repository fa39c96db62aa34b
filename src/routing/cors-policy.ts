// CORS for a route (`enable-cors` and the `cors-*` annotations), as ingress-nginx does it: a
// request whose Origin is allowed gets the Access-Control-* fields on its response, and a
// preflight (OPTIONS with Origin and Access-Control-Request-Method, Fetch standard section
// 3.2.2) is answered 204 by Portico without reaching the backend. Pure: values in, values out.

export interface CorsOrigin {
  /** lowercase */
  readonly scheme: string;
  /** `https://*.example.com`: one label (letters, digits, `-`) in front of `host` */
  readonly wildcard: boolean;
  /** lowercase, without the `*.` */
  readonly host: string;
  /** `:8443`, or '' */
  readonly port: string;
}

export interface CorsPolicy {
  /** `*`: any origin, answered with `Access-Control-Allow-Origin: *` (as ingress-nginx) */
  readonly origins: readonly CorsOrigin[] | '*';
  readonly allowMethods: string;
  readonly allowHeaders: string;
  /** undefined: no Access-Control-Expose-Headers */
  readonly exposeHeaders: string | undefined;
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

/** ingress-nginx's defaults (docs/user-guide/nginx-configuration/annotations.md, "Enable CORS"). */
export const CORS_DEFAULTS = Object.freeze({
  allowMethods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
  allowHeaders:
    'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  allowCredentials: true,
  maxAgeSeconds: 1_728_000,
});

const LABEL = /^[a-z0-9-]+$/;

function originAllowed(origin: string, allowed: CorsOrigin): boolean {
  const prefix = `${allowed.scheme}://`;
  const suffix = `${allowed.host}${allowed.port}`;
  if (!allowed.wildcard) return origin === prefix + suffix;
  if (!origin.startsWith(prefix) || !origin.endsWith(`.${suffix}`)) return false;
  return LABEL.test(origin.slice(prefix.length, origin.length - suffix.length - 1));
}

/**
 * The value for Access-Control-Allow-Origin, or undefined when this Origin gets no CORS fields.
 * A listed origin is echoed; matching is whole and case-insensitive (ingress-nginx's regex is
 * anchored only at the end).
 */
export function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (origin === undefined) return undefined;
  if (policy.origins === '*') return '*';
  const lower = origin.toLowerCase();
  return policy.origins.some((allowed) => originAllowed(lower, allowed)) ? origin : undefined;
}

/** The Access-Control-* fields for an allowed origin, as a flat `[name, value, ...]` list. */
export function corsHeaders(policy: CorsPolicy, allowOrigin: string): string[] {
  const fields = ['access-control-allow-origin', allowOrigin];
  if (policy.allowCredentials) fields.push('access-control-allow-credentials', 'true');
  fields.push('access-control-allow-methods', policy.allowMethods, 'access-control-allow-headers', policy.allowHeaders);
  if (policy.exposeHeaders !== undefined) fields.push('access-control-expose-headers', policy.exposeHeaders);
  fields.push('access-control-max-age', String(policy.maxAgeSeconds));
  return fields;
}

/** A CORS preflight: OPTIONS carrying Origin and Access-Control-Request-Method. */
export function isPreflight(method: string | undefined, origin: string | undefined, requestMethod: unknown): boolean {
  return method === 'OPTIONS' && origin !== undefined && typeof requestMethod === 'string';
}
