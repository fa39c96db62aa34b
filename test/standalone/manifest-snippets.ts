// Kubernetes objects as YAML text for the runtime, standalone and CLI tests.

export const INGRESS_CLASS_YAML = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: portico }
spec: { controller: portico.dev/ingress-controller }
`;

export function serviceYaml(name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { ports: [{ port: ${port} }] }
`;
}

export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

/** One slice of `service` with the target `port` and these addresses (and conditions). */
export function endpointSliceYaml(
  name: string,
  service: string,
  port: number,
  addresses: readonly string[] | Readonly<Record<string, EndpointConditions>>,
): string {
  const entries = Array.isArray(addresses)
    ? addresses.map((address): [string, EndpointConditions] => [address, {}])
    : Object.entries(addresses);
  const endpoints = entries.map(
    ([address, conditions]) => `  - { addresses: [${address}], conditions: ${JSON.stringify(conditions)} }`,
  );
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}, namespace: default, labels: { kubernetes.io/service-name: ${service} } }
addressType: IPv4
ports: [{ name: '', port: ${port} }]
endpoints:
${endpoints.join('\n')}
`;
}

export interface IngressSpec {
  readonly name: string;
  readonly host: string;
  readonly path: string;
  readonly service: string;
  readonly port: number;
}

export function ingressYaml(spec: IngressSpec): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${spec.name}, namespace: default }
spec:
  ingressClassName: portico
  rules:
    - host: ${spec.host}
      http:
        paths:
          - { path: ${spec.path}, pathType: Prefix, backend: { service: { name: ${spec.service}, port: { number: ${spec.port} } } } }
`;
}

export function yamlStream(...documents: readonly string[]): string {
  return documents.join('---\n');
}
