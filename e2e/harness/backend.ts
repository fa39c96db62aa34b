// A tiny HTTP backend for e2e tests, standing in for a Pod behind a Service.
// Started inside a network namespace by startBackend() (netns.ts), because the
// API server rejects loopback addresses in EndpointSlices.
//
//   node e2e/harness/backend.ts --listen 10.203.7.2:8080 --name web-1 [--version 2] [--body 'text']
//
// GET /echo and /echo/... answer with the request as JSON, so tests can check
// what the proxy forwarded (path, headers). Every other path answers with the
// hello-app style text below, or --body if given. Each response carries
// x-backend-name, so load-balancing tests can count who answered.

import { realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface EchoedRequest {
  readonly backend: string;
  readonly method: string;
  /** Path and query exactly as received. */
  readonly url: string;
  readonly httpVersion: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export function helloBody(name: string, version: string): string {
  return `Hello, world!\nVersion: ${version}\nHostname: ${name}\n`;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`--listen must be host:port, got ${JSON.stringify(listen)}`);
  }
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

function isEchoPath(url: string): boolean {
  const path = url.split('?', 1)[0] ?? '';
  return path === '/echo' || path.startsWith('/echo/');
}

function main(): void {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string', default: '1' },
      body: { type: 'string' },
    },
    strict: true,
  });
  if (values.listen === undefined || values.name === undefined) {
    throw new Error('usage: backend.ts --listen host:port --name NAME [--version V] [--body TEXT]');
  }
  const name = values.name;
  const body = values.body ?? helloBody(name, values.version);
  const { host, port } = splitHostPort(values.listen);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('x-backend-name', name);
      const url = req.url ?? '/';
      if (isEchoPath(url)) {
        const echoed: EchoedRequest = {
          backend: name,
          method: req.method ?? '',
          url,
          httpVersion: req.httpVersion,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        res.setHeader('content-type', 'application/json');
        res.end(`${JSON.stringify(echoed)}\n`);
        return;
      }
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.listen({ host, port }, () => {
    process.stdout.write(`backend ${name} listening on ${values.listen}\n`);
  });
  const shutDown = (): void => {
    server.close(() => process.exit(0));
    // Keep-alive connections would hold close() open; a test backend need not drain.
    server.closeAllConnections();
  };
  process.once('SIGTERM', shutDown);
  process.once('SIGINT', shutDown);
}

// Run as a script, not when a test imports helloBody() or the types.
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))) main();
