// The demo's two "Deployments", each two replicas on its own loopback address, answering
// like the hello-app image of the Kubernetes "Set up Ingress on Minikube" tutorial.
// Linux routes all of 127.0.0.0/8 to the loopback interface, so no setup is needed.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoReplicaSpec {
  readonly service: string;
  readonly version: string;
  readonly hostname: string;
  readonly address: string;
}

export const DEMO_REPLICAS: readonly DemoReplicaSpec[] = Object.freeze([
  { service: 'web', version: '1.0.0', hostname: 'web-1', address: '127.0.0.11' },
  { service: 'web', version: '1.0.0', hostname: 'web-2', address: '127.0.0.12' },
  { service: 'web2', version: '2.0.0', hostname: 'web2-1', address: '127.0.0.21' },
  { service: 'web2', version: '2.0.0', hostname: 'web2-2', address: '127.0.0.22' },
]);

export interface DemoReplica extends DemoReplicaSpec {
  readonly port: number;
}

export interface DemoBackends {
  readonly replicas: readonly DemoReplica[];
  close(): Promise<void>;
}

export function demoResponseBody(replica: DemoReplicaSpec): string {
  return `Hello, world!\nVersion: ${replica.version}\nHostname: ${replica.hostname}\n`;
}

function startReplica(spec: DemoReplicaSpec, port: number): Promise<{ server: Server; replica: DemoReplica }> {
  const body = demoResponseBody(spec);
  const server = createServer((request, response) => {
    // Drain any request body so keep-alive connections stay usable.
    request.resume();
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === 'EADDRINUSE'
          ? ' (is another demo running? pick other ports with --backend-port)'
          : error.code === 'EADDRNOTAVAIL'
            ? ' (this system does not route 127.0.0.0/8 to loopback)'
            : '';
      reject(new Error(`demo backend ${spec.hostname} cannot listen on ${spec.address}:${port}: ${error.code}${hint}`));
    });
    server.listen(port, spec.address, () => {
      resolve({ server, replica: { ...spec, port: (server.address() as AddressInfo).port } });
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Starts every replica on `port` (0: each gets its own free port). */
export async function startDemoBackends(port: number): Promise<DemoBackends> {
  const started = await Promise.allSettled(DEMO_REPLICAS.map((spec) => startReplica(spec, port)));
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value.server] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(servers.map(closeServer));
    throw failure.reason;
  }
  return {
    replicas: started.flatMap((result) => (result.status === 'fulfilled' ? [result.value.replica] : [])),
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
