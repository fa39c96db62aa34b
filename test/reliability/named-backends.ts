// Backends for the reliability tests: small HTTP servers on 127.0.0.x that answer their own
// name (plus the Host they were sent), count what they served, and can be stopped gently or
// killed. Several may share one port on different addresses, as the pods of one Deployment
// share a containerPort, so one EndpointSlice (one port per slice) can list them all.

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface NamedBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly server: Server;
  /** requests that reached this backend */
  readonly served: () => number;
  /** the request paths that reached this backend, when recording was asked for */
  readonly paths: string[];
  /** stops accepting and closes every connection at once (a process killed) */
  kill(): Promise<void>;
}

export interface BackendOptions {
  /** answer after this long (requests then stay in flight for a while) */
  readonly delayMs?: number;
  /** keep every request path in `paths` */
  readonly recordPaths?: boolean;
}

function listen(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function startOne(name: string, address: string, port: number, options: BackendOptions): Promise<NamedBackend> {
  let served = 0;
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    served++;
    if (options.recordPaths) paths.push(req.url ?? '');
    req.resume();
    const answer = (): void => {
      const body = `${name} ${req.headers.host ?? ''}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    req.on('end', () => {
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await listen(server, address, port);
  return {
    name,
    address,
    port: (server.address() as AddressInfo).port,
    server,
    served: () => served,
    paths,
    kill: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** One backend per `name: address`, all on the same port (picked by the first, retried if taken). */
export async function startBackendsOnOnePort(
  addresses: Readonly<Record<string, string>>,
  options: BackendOptions = {},
): Promise<NamedBackend[]> {
  const entries = Object.entries(addresses);
  for (let attempt = 0; attempt < 10; attempt++) {
    const started: NamedBackend[] = [];
    try {
      let port = 0;
      for (const [name, address] of entries) {
        const backend = await startOne(name, address, port, options);
        port = backend.port;
        started.push(backend);
      }
      return started;
    } catch (error) {
      await Promise.all(started.map((backend) => backend.kill()));
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(`no common free port for ${entries.map(([, address]) => address).join(', ')}`);
}
