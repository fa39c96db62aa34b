// The demo's Kubernetes objects, mirroring the "Set up Ingress on Minikube with the NGINX
// Ingress Controller" tutorial (kubernetes.io/docs/tasks/access-application-cluster/ingress-minikube/):
// Deployments `web` and `web2` exposed as Services on port 8080, and `example-ingress` for
// hello-world.info with `/` → web:8080 and `/v2` → web2:8080. No kubelet runs here, so the
// EndpointSlices the EndpointSlice controller would write are written out by hand, pointing
// at the demo backends. Generated rather than shipped so the slices carry the real ports.

import { stringify } from 'yaml';
import { DEFAULT_CONTROLLER_CLASS, DEFAULT_INGRESS_CLASS } from '../../config/config.ts';
import type { DemoReplica } from './demo-backends.ts';

export const DEMO_HOST = 'hello-world.info';
/**
 * The demo's TLS host: its own Ingress with spec.tls, so hello-world.info keeps answering over
 * plain HTTP (a TLS host's HTTP requests are redirected to HTTPS, as with ingress-nginx).
 */
export const DEMO_TLS_HOST = 'secure.hello-world.info';
export const DEMO_TLS_SECRET = 'demo-tls';
/** The Service port of the tutorial's `kubectl expose deployment web --port=8080`. */
export const DEMO_SERVICE_PORT = 8080;

export interface ManifestFile {
  readonly name: string;
  readonly text: string;
}

function yamlDocuments(comment: string, objects: readonly object[]): string {
  return `# ${comment}\n${objects.map((object) => stringify(object)).join('---\n')}`;
}

function service(name: string, targetPort: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      type: 'NodePort',
      selector: { app: name },
      ports: [{ port: DEMO_SERVICE_PORT, targetPort, protocol: 'TCP' }],
    },
  };
}

/** One slice per Service and port, as the EndpointSlice controller groups them. */
function endpointSlices(replicas: readonly DemoReplica[]): object[] {
  const groups = new Map<string, DemoReplica[]>();
  for (const replica of replicas) {
    const key = `${replica.service}\u0000${replica.port}`;
    groups.set(key, [...(groups.get(key) ?? []), replica]);
  }
  return [...groups.values()].map((group, index) => {
    const first = group[0] as DemoReplica;
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${first.service}-${index}`,
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': first.service },
      },
      addressType: 'IPv4',
      ports: [{ name: '', port: first.port, protocol: 'TCP' }],
      endpoints: group.map((replica) => ({
        addresses: [replica.address],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: 'default', name: replica.hostname },
      })),
    };
  });
}

/** The TLS Secret and Ingress for DEMO_TLS_HOST: what `kubectl create secret tls` and a TLS Ingress would be. */
function tlsManifestFiles(pair: { readonly certPem: string; readonly keyPem: string }): ManifestFile[] {
  return [
    {
      name: 'demo-tls-secret.yaml',
      text: yamlDocuments(
        `kubectl create secret tls ${DEMO_TLS_SECRET} --cert=demo-tls.crt --key=... (a certificate made at demo start). Replace it: Portico serves the new one on the next handshake.`,
        [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: DEMO_TLS_SECRET, namespace: 'default' },
            type: 'kubernetes.io/tls',
            stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem },
          },
        ],
      ),
    },
    {
      name: 'example-tls-ingress.yaml',
      text: yamlDocuments(`A TLS Ingress: ${DEMO_TLS_HOST} over https, its plain-HTTP requests redirected (308).`, [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'example-tls-ingress', namespace: 'default' },
          spec: {
            ingressClassName: DEFAULT_INGRESS_CLASS,
            tls: [{ hosts: [DEMO_TLS_HOST], secretName: DEMO_TLS_SECRET }],
            rules: [
              {
                host: DEMO_TLS_HOST,
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: 'web', port: { number: DEMO_SERVICE_PORT } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      ]),
    },
  ];
}

export function demoManifestFiles(
  replicas: readonly DemoReplica[],
  tls?: { readonly certPem: string; readonly keyPem: string },
): ManifestFile[] {
  const portOf = (name: string): number => replicas.find((replica) => replica.service === name)?.port ?? 0;
  return [
    {
      name: 'ingress-class.yaml',
      text: yamlDocuments('The IngressClass Portico answers to (--controller-class).', [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'IngressClass',
          metadata: { name: DEFAULT_INGRESS_CLASS },
          spec: { controller: DEFAULT_CONTROLLER_CLASS },
        },
      ]),
    },
    {
      name: 'services.yaml',
      text: yamlDocuments('kubectl expose deployment web --type=NodePort --port=8080 (and web2).', [
        service('web', portOf('web')),
        service('web2', portOf('web2')),
      ]),
    },
    {
      name: 'endpoint-slices.yaml',
      text: yamlDocuments(
        'What the EndpointSlice controller would write for the replicas; here they are the demo backends.',
        endpointSlices(replicas),
      ),
    },
    {
      name: 'example-ingress.yaml',
      text: yamlDocuments("The tutorial's example-ingress.yaml. Edit it while the demo runs: changes apply live.", [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'example-ingress', namespace: 'default' },
          spec: {
            ingressClassName: DEFAULT_INGRESS_CLASS,
            rules: [
              {
                host: DEMO_HOST,
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: 'web', port: { number: DEMO_SERVICE_PORT } } },
                    },
                    {
                      path: '/v2',
                      pathType: 'Prefix',
                      backend: { service: { name: 'web2', port: { number: DEMO_SERVICE_PORT } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      ]),
    },
    ...(tls ? tlsManifestFiles(tls) : []),
  ];
}
