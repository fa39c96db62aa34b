// Contestant (d)'s input: the Kubernetes objects `portico serve --manifests` reads, written
// into the run's temp dir. One Ingress for the bench host, `/` Prefix → Service `backend`
// port 80, whose EndpointSlice holds the one nginx backend, as the EndpointSlice controller
// would write it for a ready Pod.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_CONTROLLER_CLASS, DEFAULT_INGRESS_CLASS } from '../../src/config/config.ts';
import type { Listen } from './nginx-config.ts';

/** The Host header every contestant is sent, so Portico matches a host rule, not the catch-all. */
export const BENCH_HOST = 'bench.portico.test';

const SERVICE_PORT = 80;

/** Writes the manifests into `dir` (one per Portico process: each watches its own); returns `dir`. */
export async function writePorticoManifests(dir: string, backend: Listen): Promise<string> {
  const objects = [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: DEFAULT_INGRESS_CLASS },
      spec: { controller: DEFAULT_CONTROLLER_CLASS },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace: 'bench' },
      spec: {
        selector: { app: 'backend' },
        ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: backend.port, protocol: 'TCP' }],
      endpoints: [{ addresses: [backend.host], conditions: { ready: true, serving: true, terminating: false } }],
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'bench', namespace: 'bench' },
      spec: {
        ingressClassName: DEFAULT_INGRESS_CLASS,
        rules: [
          {
            host: BENCH_HOST,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'backend', port: { number: SERVICE_PORT } } },
                },
              ],
            },
          },
        ],
      },
    },
  ];
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'bench.yaml'), objects.map((object) => stringify(object)).join('---\n'));
  return dir;
}
