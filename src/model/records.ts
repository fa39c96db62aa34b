// Our own frozen records of the Kubernetes objects we read. They hold only the fields
// Portico uses; API objects never travel past the edge that normalizes them.

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones. */
export type ObjectKey = string;

export function objectKey(namespace: string, name: string): ObjectKey {
  return `${namespace}/${name}`;
}

export interface ServiceBackendPortRecord {
  readonly number: number | undefined;
  readonly name: string | undefined;
}

export interface IngressBackendRecord {
  readonly service: { readonly name: string; readonly port: ServiceBackendPortRecord | undefined } | undefined;
  readonly resource:
    { readonly apiGroup: string | undefined; readonly kind: string; readonly name: string } | undefined;
}

export interface IngressPathRecord {
  readonly path: string | undefined;
  readonly pathType: string | undefined;
  readonly backend: IngressBackendRecord | undefined;
}

export interface IngressRuleRecord {
  readonly host: string | undefined;
  /** undefined when the rule has no `http` block: the host is still defined (ROUTING.md section 5). */
  readonly paths: readonly IngressPathRecord[] | undefined;
}

export interface IngressTlsRecord {
  readonly hosts: readonly string[];
  readonly secretName: string | undefined;
}

export interface IngressRecord {
  readonly kind: 'Ingress';
  readonly namespace: string;
  readonly name: string;
  readonly key: ObjectKey;
  readonly uid: string | undefined;
  /** RFC 3339 as the API server writes it; compared as a date for the oldest-wins order. */
  readonly creationTimestamp: string | undefined;
  readonly ingressClassName: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  readonly defaultBackend: IngressBackendRecord | undefined;
  readonly rules: readonly IngressRuleRecord[];
  readonly tls: readonly IngressTlsRecord[];
  readonly statusAddresses: readonly LoadBalancerAddress[];
}

export interface IngressClassRecord {
  readonly kind: 'IngressClass';
  readonly name: string;
  readonly key: ObjectKey;
  readonly controller: string | undefined;
  readonly isDefaultClass: boolean;
}

export interface ServicePortRecord {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number | string | undefined;
  readonly protocol: string;
  readonly appProtocol: string | undefined;
}

export interface LoadBalancerAddress {
  readonly ip: string | undefined;
  readonly hostname: string | undefined;
}

export interface ServiceRecord {
  readonly kind: 'Service';
  readonly namespace: string;
  readonly name: string;
  readonly key: ObjectKey;
  /** metadata.uid: keys persistent affinity cookies (src/endpoints/cookie-affinity.ts) */
  readonly uid?: string | undefined;
  readonly type: string;
  readonly clusterIP: string | undefined;
  readonly externalName: string | undefined;
  readonly externalIPs: readonly string[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  readonly ports: readonly ServicePortRecord[];
  readonly loadBalancerIngress: readonly LoadBalancerAddress[];
}

export interface EndpointRecord {
  readonly addresses: readonly string[];
  /** unset in the API counts as true (EndpointConditions docs) */
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zone: string | undefined;
}

export interface EndpointPortRecord {
  readonly name: string;
  readonly port: number | undefined;
  readonly protocol: string;
  readonly appProtocol: string | undefined;
}

export interface EndpointSliceRecord {
  readonly kind: 'EndpointSlice';
  readonly namespace: string;
  readonly name: string;
  readonly key: ObjectKey;
  /** from the `kubernetes.io/service-name` label */
  readonly serviceName: string | undefined;
  readonly addressType: string;
  readonly ports: readonly EndpointPortRecord[];
  readonly endpoints: readonly EndpointRecord[];
}

export interface SecretRecord {
  readonly kind: 'Secret';
  readonly namespace: string;
  readonly name: string;
  readonly key: ObjectKey;
  readonly type: string;
  /** values decoded from base64 (`data`) or taken as-is (`stringData`) */
  readonly data: Readonly<Record<string, string>>;
}

export type ClusterRecord = IngressRecord | IngressClassRecord | ServiceRecord | EndpointSliceRecord | SecretRecord;
export type ClusterRecordKind = ClusterRecord['kind'];
