// Real HTTP backends on loopback addresses (127.0.0.x) for the data-plane tests.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type BackendHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly server: Server;
  /** requests seen, in arrival order */
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

/** Answers JSON naming the backend and echoing method, URL and headers. */
export function echoHandler(name: string): BackendHandler {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

export async function startBackend(name: string, address: string, handler?: BackendHandler): Promise<TestBackend> {
  const seen: TestBackend['seen'] = [];
  const respond = handler ?? echoHandler(name);
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    respond(req, res);
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    name,
    address,
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers its own name as the whole body. */
export function nameHandler(name: string): BackendHandler {
  return (_req, res) => res.end(name);
}

/** One name-answering backend per address: `${prefix}0`, `${prefix}1`, ... */
export function startNamedBackends(prefix: string, addresses: readonly string[]): Promise<TestBackend[]> {
  return Promise.all(
    addresses.map((address, index) => startBackend(`${prefix}${index}`, address, nameHandler(`${prefix}${index}`))),
  );
}
