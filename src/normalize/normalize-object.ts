// Plain API JSON (from the watch or a manifest file) → our frozen records.
// Structural garbage becomes an error string for that one object; semantic checks
// (bad paths, hosts, annotations...) are compile's job so they can be reported per rule.

import type {
  ClusterRecord,
  EndpointSliceRecord,
  IngressBackendRecord,
  IngressClassRecord,
  IngressRecord,
  LoadBalancerAddress,
  SecretRecord,
  ServiceRecord,
} from '../model/records.ts';
import { objectKey } from '../model/records.ts';
import {
  asArray,
  asBoolean,
  asInteger,
  asObject,
  asString,
  asStringMap,
  deepFreeze,
  internString,
  type JsonObject,
  listOrEmpty,
} from './plain-json.ts';

export type NormalizeResult =
  { readonly ok: true; readonly record: ClusterRecord } | { readonly ok: false; readonly error: string };

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** Kinds we understand; anything else in a manifest is skipped by the caller. */
export const NORMALIZED_KINDS = ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Secret'] as const;

export function normalizeObject(raw: unknown): NormalizeResult {
  const object = asObject(raw);
  if (!object) return { ok: false, error: 'not an object' };
  const kind = asString(object.kind);
  const metadata = asObject(object.metadata);
  const name = asString(metadata?.name);
  if (!kind) return { ok: false, error: 'object has no kind' };
  if (!metadata || !name) return { ok: false, error: `${kind} has no metadata.name` };
  const namespace = internString(asString(metadata.namespace)) ?? 'default';
  switch (kind) {
    case 'Ingress':
      return done(normalizeIngress(object, metadata, namespace, name));
    case 'IngressClass':
      return done(normalizeIngressClass(object, metadata, name));
    case 'Service':
      return done(normalizeService(object, namespace, name));
    case 'EndpointSlice':
      return done(normalizeEndpointSlice(object, metadata, namespace, name));
    case 'Secret':
      return done(normalizeSecret(object, namespace, name));
    default:
      return { ok: false, error: `kind ${kind} is not one Portico reads` };
  }
}

function done(record: ClusterRecord): NormalizeResult {
  return { ok: true, record: deepFreeze(record) };
}

function normalizeBackend(raw: unknown): IngressBackendRecord | undefined {
  const backend = asObject(raw);
  if (!backend) return undefined;
  const service = asObject(backend.service);
  const port = asObject(service?.port);
  const resource = asObject(backend.resource);
  return {
    service: service
      ? {
          name: asString(service.name) ?? '',
          port: port ? { number: asInteger(port.number), name: asString(port.name) } : undefined,
        }
      : undefined,
    resource: resource
      ? {
          apiGroup: asString(resource.apiGroup),
          kind: asString(resource.kind) ?? '',
          name: asString(resource.name) ?? '',
        }
      : undefined,
  };
}

function normalizeAddresses(raw: unknown): readonly LoadBalancerAddress[] {
  return listOrEmpty(
    asArray(raw).flatMap((entry) => {
      const address = asObject(entry);
      return address ? [{ ip: asString(address.ip), hostname: asString(address.hostname) }] : [];
    }),
  );
}

function normalizeIngress(object: JsonObject, metadata: JsonObject, namespace: string, name: string): IngressRecord {
  const spec = asObject(object.spec) ?? {};
  return {
    kind: 'Ingress',
    namespace,
    name,
    key: objectKey(namespace, name),
    uid: asString(metadata.uid),
    creationTimestamp: asString(metadata.creationTimestamp),
    ingressClassName: internString(asString(spec.ingressClassName)),
    annotations: asStringMap(metadata.annotations),
    defaultBackend: normalizeBackend(spec.defaultBackend),
    rules: asArray(spec.rules).map((entry) => {
      const rule = asObject(entry) ?? {};
      const http = asObject(rule.http);
      return {
        host: asString(rule.host),
        paths: http
          ? asArray(http.paths).map((pathEntry) => {
              const path = asObject(pathEntry) ?? {};
              return {
                path: asString(path.path),
                pathType: internString(asString(path.pathType)),
                backend: normalizeBackend(path.backend),
              };
            })
          : undefined,
      };
    }),
    tls: listOrEmpty(
      asArray(spec.tls).map((entry) => {
        const tls = asObject(entry) ?? {};
        return {
          hosts: asArray(tls.hosts).flatMap((host) => (typeof host === 'string' ? [host] : [])),
          secretName: asString(tls.secretName),
        };
      }),
    ),
    statusAddresses: normalizeAddresses(asObject(asObject(object.status)?.loadBalancer)?.ingress),
  };
}

function normalizeIngressClass(object: JsonObject, metadata: JsonObject, name: string): IngressClassRecord {
  const spec = asObject(object.spec) ?? {};
  return {
    kind: 'IngressClass',
    name,
    key: name,
    controller: asString(spec.controller),
    isDefaultClass: asStringMap(metadata.annotations)[DEFAULT_CLASS_ANNOTATION] === 'true',
  };
}

function normalizeService(object: JsonObject, namespace: string, name: string): ServiceRecord {
  const spec = asObject(object.spec) ?? {};
  const status = asObject(object.status);
  return {
    kind: 'Service',
    namespace,
    name,
    key: objectKey(namespace, name),
    uid: asString(asObject(object.metadata)?.uid),
    type: asString(spec.type) ?? 'ClusterIP',
    clusterIP: asString(spec.clusterIP),
    externalName: asString(spec.externalName),
    externalIPs: listOrEmpty(asArray(spec.externalIPs).flatMap((ip) => (typeof ip === 'string' ? [ip] : []))),
    sessionAffinity: asString(spec.sessionAffinity) === 'ClientIP' ? 'ClientIP' : 'None',
    ports: asArray(spec.ports).flatMap((entry) => {
      const port = asObject(entry);
      const number = asInteger(port?.port);
      if (!port || number === undefined) return [];
      const target = port.targetPort;
      return [
        {
          name: internString(asString(port.name)) ?? '',
          port: number,
          targetPort:
            typeof target === 'number' ? target : typeof target === 'string' ? internString(target) : undefined,
          protocol: internString(asString(port.protocol)) ?? 'TCP',
          appProtocol: internString(asString(port.appProtocol)),
        },
      ];
    }),
    loadBalancerIngress: normalizeAddresses(asObject(status?.loadBalancer)?.ingress),
  };
}

function normalizeEndpointSlice(
  object: JsonObject,
  metadata: JsonObject,
  namespace: string,
  name: string,
): EndpointSliceRecord {
  return {
    kind: 'EndpointSlice',
    namespace,
    name,
    key: objectKey(namespace, name),
    serviceName: asStringMap(metadata.labels)[SERVICE_NAME_LABEL],
    addressType: internString(asString(object.addressType)) ?? 'IPv4',
    ports: asArray(object.ports).flatMap((entry) => {
      const port = asObject(entry);
      if (!port) return [];
      return [
        {
          name: internString(asString(port.name)) ?? '',
          port: asInteger(port.port),
          protocol: internString(asString(port.protocol)) ?? 'TCP',
          appProtocol: internString(asString(port.appProtocol)),
        },
      ];
    }),
    endpoints: asArray(object.endpoints).flatMap((entry) => {
      const endpoint = asObject(entry);
      if (!endpoint) return [];
      const conditions = asObject(endpoint.conditions) ?? {};
      const ready = asBoolean(conditions.ready) ?? true;
      return [
        {
          addresses: asArray(endpoint.addresses).flatMap((a) => (typeof a === 'string' ? [a] : [])),
          ready,
          // EndpointConditions: serving unset means "same as ready"; terminating unset means false.
          serving: asBoolean(conditions.serving) ?? ready,
          terminating: asBoolean(conditions.terminating) ?? false,
          zone: asString(endpoint.zone),
        },
      ];
    }),
  };
}

/** Keys Portico reads from any Secret: the htpasswd file, the CA bundle and a key pair. */
const SECRET_KEYS_READ: ReadonlySet<string> = new Set(['auth', 'ca.crt', 'tls.crt', 'tls.key']);
/** An `auth-map` entry's value: a password hash in one of the schemes Portico reads. */
const PASSWORD_HASH = /^(\$2[aby]\$|\$apr1\$|\{SHA\}|\{PLAIN\})/;
const MAX_HASH_VALUE_LENGTH = 1024;

/**
 * Cluster mode watches every Opaque Secret (auth-secret may name any of them), so their data is
 * trimmed here to what Portico can use: the keys above, and short values that are password
 * hashes (auth-map entries). Applications' own Secrets (database passwords, configuration
 * files) are neither kept in memory nor a cost; TLS Secrets are kept whole.
 */
function keepSecretValue(type: string, key: string, value: string): boolean {
  if (type === 'kubernetes.io/tls' || SECRET_KEYS_READ.has(key)) return true;
  return value.length <= MAX_HASH_VALUE_LENGTH && PASSWORD_HASH.test(value.trim());
}

function normalizeSecret(object: JsonObject, namespace: string, name: string): SecretRecord {
  const type = asString(object.type) ?? 'Opaque';
  const data: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(asStringMap(object.data))) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    if (keepSecretValue(type, key, decoded)) data[key] = decoded;
  }
  for (const [key, value] of Object.entries(asStringMap(object.stringData))) {
    if (keepSecretValue(type, key, value)) data[key] = value;
  }
  return {
    kind: 'Secret',
    namespace,
    name,
    key: objectKey(namespace, name),
    type,
    data,
  };
}
