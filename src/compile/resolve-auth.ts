// `auth-type: basic` (ingress-nginx docs/examples/auth/basic): the annotations and the Secret
// they name → the route's RouteAuth, with one diagnostic per problem. Authentication fails
// closed: when it is asked for but cannot be set up (bad annotation, missing or malformed
// Secret, external auth), the paths answer 503 instead of going unprotected, as ingress-nginx
// denies such a location. Pure: the Secret comes from the snapshot.

import { type ParsedCredentials, parseAuthMap, parseHtpasswd } from '../auth/htpasswd.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { IngressRecord, SecretRecord } from '../model/records.ts';
import type { RouteAuth } from '../routing/route-table.ts';
import { AUTH_ANNOTATIONS, NGINX_PREFIX, parseSecretReference } from './annotations/annotation-registry.ts';
import { readAnnotation } from './annotations/read-annotation.ts';
import type { RecordLookup } from './snapshot-reads.ts';

export const DEFAULT_AUTH_REALM = 'Authentication Required';
/** The data key of an `auth-file` Secret (`kubectl create secret generic x --from-file=auth`). */
export const AUTH_FILE_KEY = 'auth';
const AUTH_URL = `${NGINX_PREFIX}auth-url`;

/**
 * Parsed credentials per Secret record: a recompile for an unrelated change hands the proxy
 * the same Credentials object, so its verification cache survives; a new Secret generation is
 * a new record and starts afresh. Memoizing on an immutable input keeps compile pure.
 */
const parsedBySecret = new WeakMap<SecretRecord, Map<string, ParsedCredentials>>();

function parseSecret(secret: SecretRecord, type: 'auth-file' | 'auth-map'): ParsedCredentials | undefined {
  let parsed = parsedBySecret.get(secret);
  if (!parsed) {
    parsed = new Map();
    parsedBySecret.set(secret, parsed);
  }
  const cached = parsed.get(type);
  if (cached) return cached;
  const text = secret.data[AUTH_FILE_KEY];
  if (type === 'auth-file' && text === undefined) return undefined;
  const result = type === 'auth-file' ? parseHtpasswd(text as string) : parseAuthMap(secret.data);
  parsed.set(type, result);
  return result;
}

/** `ns/name` of the Secret an Ingress's `auth-secret` names, if it names one well (store relevance). */
export function authSecretKeyOf(ingress: IngressRecord): string | undefined {
  const raw = ingress.annotations[NGINX_PREFIX + AUTH_ANNOTATIONS.authSecret.name];
  if (raw === undefined) return undefined;
  const parsed = parseSecretReference(raw);
  return parsed.ok ? `${parsed.value.namespace ?? ingress.namespace}/${parsed.value.name}` : undefined;
}

export function resolveAuth(
  ingress: IngressRecord,
  secrets: RecordLookup<SecretRecord>,
  diagnostics: Diagnostic[],
): RouteAuth | undefined {
  const object = `Ingress ${ingress.key}`;
  const unavailable = (code: string, reason: string): RouteAuth => {
    diagnostics.push({ object, code, reason: `${reason}; its paths answer 503 until this is fixed` });
    return Object.freeze({ kind: 'unavailable', reason });
  };
  if (ingress.annotations[AUTH_URL] !== undefined) {
    return unavailable('UnsupportedAnnotation', `annotation ${AUTH_URL} (external authentication) is not supported`);
  }
  const rawType = ingress.annotations[NGINX_PREFIX + AUTH_ANNOTATIONS.authType.name];
  if (rawType === undefined) return undefined;
  const annotation = (name: string, reason: string): RouteAuth =>
    unavailable('InvalidAnnotation', `annotation ${NGINX_PREFIX}${name} ${reason}`);

  const type = AUTH_ANNOTATIONS.authType.parse(rawType);
  if (!type.ok) return annotation(AUTH_ANNOTATIONS.authType.name, type.reason);
  const rawSecret = ingress.annotations[NGINX_PREFIX + AUTH_ANNOTATIONS.authSecret.name];
  if (rawSecret === undefined) return annotation(AUTH_ANNOTATIONS.authSecret.name, 'is missing');
  const reference = AUTH_ANNOTATIONS.authSecret.parse(rawSecret);
  if (!reference.ok) return annotation(AUTH_ANNOTATIONS.authSecret.name, reference.reason);
  const { namespace = ingress.namespace, name } = reference.value;
  if (namespace !== ingress.namespace) {
    // ingress-nginx refuses cross-namespace Secrets unless allow-cross-namespace-resources is
    // set (false by default since v1.12): one namespace's Ingress must not read another's Secret.
    return annotation(
      AUTH_ANNOTATIONS.authSecret.name,
      `names Secret ${namespace}/${name} in another namespace, which is not allowed`,
    );
  }
  const rawSecretType = ingress.annotations[NGINX_PREFIX + AUTH_ANNOTATIONS.authSecretType.name];
  const secretType = rawSecretType === undefined ? undefined : AUTH_ANNOTATIONS.authSecretType.parse(rawSecretType);
  if (secretType !== undefined && !secretType.ok) {
    return annotation(AUTH_ANNOTATIONS.authSecretType.name, secretType.reason);
  }
  const format = secretType?.value ?? 'auth-file';
  const realm = readAnnotation(ingress, AUTH_ANNOTATIONS.authRealm, diagnostics) ?? DEFAULT_AUTH_REALM;

  const secretKey = `${namespace}/${name}`;
  const secret = secrets.get(secretKey);
  if (secret === undefined) return unavailable('InvalidAuthSecret', `auth-secret ${secretKey} does not exist`);
  const parsed = parseSecret(secret, format);
  if (parsed === undefined) {
    return unavailable('InvalidAuthSecret', `auth-secret ${secretKey} has no data key "${AUTH_FILE_KEY}"`);
  }
  for (const problem of parsed.problems) {
    diagnostics.push({ object, code: 'InvalidAuthSecret', reason: `auth-secret ${secretKey}: ${problem}` });
  }
  if (parsed.credentials.size === 0) {
    return unavailable('InvalidAuthSecret', `auth-secret ${secretKey} has no usable user`);
  }
  return Object.freeze({ kind: 'basic', realm, secretKey, credentials: parsed.credentials });
}
