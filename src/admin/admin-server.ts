// The admin listener, on its own port so probes and scrapes never queue behind proxied
// traffic: /healthz (the process answers), /readyz (ready to take traffic: source synced,
// first table built, not draining), /metrics (Prometheus text).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logging/create-logger.ts';
import { renderMetricsChunks } from './endpoint-series.ts';

export interface AdminServerOptions {
  readonly registry: Registry;
  /** asked on every /readyz; may turn false again (drain) */
  readonly isReady: () => boolean;
  readonly logger: Logger;
  /** the /metrics text; default: the registry's (the primary of several workers aggregates theirs) */
  readonly collectMetrics?: () => Promise<string>;
}

/** `body` in pieces is written piece by piece (the /metrics text: no 1.6 MB string made per scrape). */
function answer(
  response: ServerResponse,
  status: number,
  body: string | readonly string[],
  contentType = 'text/plain; charset=utf-8',
): void {
  const pieces = typeof body === 'string' ? [body] : body;
  let length = 0;
  for (const piece of pieces) length += Buffer.byteLength(piece);
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': length,
    'cache-control': 'no-store',
  });
  if (response.req.method !== 'HEAD') {
    response.cork();
    for (const piece of pieces) response.write(piece);
    response.uncork();
  }
  response.end();
}

export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: Server;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        options.logger.error({ err: error, path: request.url }, 'admin request failed');
        if (!response.headersSent) answer(response, 500, 'internal error\n');
        else response.destroy();
      });
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      answer(response, 405, 'method not allowed\n');
      return;
    }
    const path = (request.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/healthz':
        answer(response, 200, 'ok\n');
        return;
      case '/readyz':
        if (this.#options.isReady()) answer(response, 200, 'ok\n');
        else answer(response, 503, 'not ready\n');
        return;
      case '/metrics': {
        const { registry, collectMetrics } = this.#options;
        answer(
          response,
          200,
          collectMetrics ? await collectMetrics() : await renderMetricsChunks(registry),
          registry.contentType,
        );
        return;
      }
      default:
        answer(response, 404, 'not found\n');
    }
  }

  /** Resolves with the bound address once listening (port 0 picks a free port). */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolvePromise, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolvePromise(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening; idle keep-alive connections are closed, busy ones finish their request. */
  close(): Promise<void> {
    return new Promise((resolvePromise) => {
      if (!this.#server.listening) {
        resolvePromise();
        return;
      }
      this.#server.close(() => resolvePromise());
      this.#server.closeIdleConnections();
    });
  }
}
