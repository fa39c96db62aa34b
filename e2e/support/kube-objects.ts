// YAML for the objects e2e tests apply with kubectl. Services have no selector: with no
// controller-manager, the tests' own EndpointSlices are the whole truth about endpoints.

export interface SliceEndpoint {
  readonly address: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export function ingressClassYaml(
  name: string,
  controller = 'portico.dev/ingress-controller',
  isDefault = false,
): string {
  const annotations = isDefault ? `, annotations: { ingressclass.kubernetes.io/is-default-class: "true" }` : '';
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: ${name}${annotations} }
spec: { controller: ${controller} }
`;
}

export function namespaceYaml(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`;
}

/** `headless`: no ClusterIP, for creating more Services than the harness's /24 service range holds. */
export function serviceYaml(namespace: string, name: string, portName = 'http', port = 8080, headless = false): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${namespace} }
spec: { ${headless ? 'clusterIP: None, ' : ''}ports: [{ name: ${portName}, port: ${port}, targetPort: 8080, protocol: TCP }] }
`;
}

export function endpointSliceYaml(
  namespace: string,
  name: string,
  service: string,
  endpoints: readonly SliceEndpoint[],
  portName = 'http',
): string {
  const list = endpoints
    .map(
      (endpoint) =>
        `  - addresses: ["${endpoint.address}"]\n    conditions: { ready: ${endpoint.ready ?? true}, serving: ${endpoint.serving ?? endpoint.ready ?? true}, terminating: ${endpoint.terminating ?? false} }`,
    )
    .join('\n');
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: ${namespace}
  labels: { kubernetes.io/service-name: ${service}, endpointslice.kubernetes.io/managed-by: e2e.portico.dev }
addressType: IPv4
ports: [{ name: ${portName}, port: 8080, protocol: TCP }]
endpoints:${endpoints.length === 0 ? ' []' : `\n${list}`}
`;
}

export interface PathSpec {
  readonly path: string;
  readonly service: string;
  readonly port?: number | string;
  readonly pathType?: string;
}

export function ingressYaml(
  namespace: string,
  name: string,
  host: string,
  paths: readonly PathSpec[],
  /** null: an Ingress that names no class */
  ingressClassName: string | null = 'portico',
): string {
  const pathLines = paths
    .map((spec) => {
      const port = typeof spec.port === 'string' ? `{ name: ${spec.port} }` : `{ number: ${spec.port ?? 8080} }`;
      return `          - { path: ${spec.path}, pathType: ${spec.pathType ?? 'Prefix'}, backend: { service: { name: ${spec.service}, port: ${port} } } }`;
    })
    .join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${ingressClassName === null ? '' : `  ingressClassName: ${ingressClassName}\n`}  rules:
    - host: ${host}
      http:
        paths:
${pathLines}
`;
}

export function documents(...parts: readonly string[]): string {
  return parts.join('---\n');
}
