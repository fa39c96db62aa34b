// Small builders for the Kubernetes objects the data-plane tests need, as manifest YAML fed to
// the real manifest reader and compiler (no hand-made route tables).

export interface TestEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface TestPath {
  readonly path: string;
  readonly service: string;
  readonly port?: number;
  readonly pathType?: 'Prefix' | 'Exact' | 'ImplementationSpecific';
}

export const INGRESS_CLASS_YAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: portico }
spec: { controller: portico.dev/ingress-controller }
`;

export function serviceYaml(
  name: string,
  options: {
    port?: number;
    sessionAffinity?: 'None' | 'ClientIP';
    externalName?: string;
    clusterIP?: string;
    uid?: string;
  } = {},
): string {
  const port = options.port ?? 80;
  const type = options.externalName ? 'ExternalName' : 'ClusterIP';
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default${options.uid ? `, uid: ${options.uid}` : ''} }
spec:
  type: ${type}
${options.externalName ? `  externalName: ${options.externalName}\n` : ''}${options.clusterIP ? `  clusterIP: ${options.clusterIP}\n` : ''}  sessionAffinity: ${options.sessionAffinity ?? 'None'}
  ports: [{ name: http, port: ${port}, targetPort: http, protocol: TCP }]
`;
}

export function sliceYaml(service: string, endpoints: readonly TestEndpoint[], sliceName = `${service}-1`): string {
  const ports = [...new Set(endpoints.map((endpoint) => endpoint.port))];
  if (ports.length > 1) throw new Error('one slice, one port: use a slice per port');
  const rows = endpoints.map(
    (endpoint) =>
      `  - addresses: ["${endpoint.ip}"]\n    conditions: { ready: ${endpoint.ready ?? true}, serving: ${endpoint.serving ?? endpoint.ready ?? true}, terminating: ${endpoint.terminating ?? false} }`,
  );
  const addressType = endpoints.some((endpoint) => endpoint.ip.includes(':')) ? 'IPv6' : 'IPv4';
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${sliceName}, namespace: default, labels: { kubernetes.io/service-name: ${service} } }
addressType: ${addressType}
ports: [{ name: http, port: ${ports[0] ?? 1}, protocol: TCP }]
endpoints:${rows.length ? `\n${rows.join('\n')}` : ' []'}
`;
}

/** One slice per backend (their ports differ), named `${service}-${index}`. */
export function slicesFor(service: string, backends: readonly { address: string; port: number }[]): string[] {
  return backends.map((backend, index) =>
    sliceYaml(service, [{ ip: backend.address, port: backend.port }], `${service}-${index}`),
  );
}

export function ingressYaml(
  name: string,
  host: string,
  paths: readonly TestPath[],
  annotations: Readonly<Record<string, string>> = {},
): string {
  const pathRows = paths.map(
    (path) =>
      `          - path: ${JSON.stringify(path.path)}\n            pathType: ${path.pathType ?? 'Prefix'}\n            backend: { service: { name: ${path.service}, port: { number: ${path.port ?? 80} } } }`,
  );
  const annotationRows = Object.entries(annotations).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`);
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  creationTimestamp: '2026-01-01T00:00:00Z'
${annotationRows.length ? `  annotations:\n${annotationRows.join('\n')}\n` : ''}spec:
  ingressClassName: portico
  rules:
    - host: ${host}
      http:
        paths:
${pathRows.join('\n')}
`;
}

/** An Opaque Secret in `default`; `data` values are base64-encoded here, `stringData` written as is. */
export function opaqueSecretYaml(
  name: string,
  values: { readonly data?: Readonly<Record<string, string>>; readonly stringData?: Readonly<Record<string, string>> },
): string {
  const rows = (entries: Readonly<Record<string, string>>, encode: boolean): string =>
    Object.entries(entries)
      .map(
        ([key, value]) =>
          `  ${JSON.stringify(key)}: ${JSON.stringify(encode ? Buffer.from(value).toString('base64') : value)}`,
      )
      .join('\n');
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: Opaque
${values.data ? `data:\n${rows(values.data, true)}\n` : ''}${values.stringData ? `stringData:\n${rows(values.stringData, false)}\n` : ''}`;
}

export function manifests(...documents: readonly string[]): string {
  return [INGRESS_CLASS_YAML, ...documents].join('---\n');
}
