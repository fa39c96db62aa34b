// Starts the real proxy server on 127.0.0.1 against a TestLiveState, capturing access-log lines
// and metrics, plus small clients: node:http for ordinary requests, raw sockets for malformed ones.

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createMetrics, type PorticoMetrics } from '../../src/admin/metrics.ts';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/proxy/create-proxy-server.ts';
import type { LiveState } from '../../src/runtime/live-state.ts';

export interface RunningProxy {
  readonly proxy: ProxyServer;
  readonly port: number;
  readonly metrics: PorticoMetrics;
  /** parsed JSON log lines, in order */
  readonly logs: Record<string, unknown>[];
  accessLogs(): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startProxy(
  state: LiveState,
  options: Omit<Partial<ProxyServerOptions>, 'state' | 'logger' | 'metrics'> = {},
): Promise<RunningProxy> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const metrics = createMetrics(new Registry());
  const proxy = createProxyServer({ state, logger, metrics, ...options });
  const address = await proxy.listen(0, '127.0.0.1');
  return {
    proxy,
    port: address.port,
    metrics,
    logs,
    accessLogs: () => logs.filter((line) => line.msg === 'request'),
    close: () => proxy.close({ graceMs: 1_000 }),
  };
}

export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface TestRequest {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  readonly localAddress?: string;
}

/** One request on a fresh connection (no keep-alive state shared between tests). */
export function send(port: number, options: TestRequest = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: {
          host: options.host ?? 'app.test',
          ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }),
          ...options.headers,
        },
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes and collects everything the server sends until it closes (or `timeoutMs`). */
export function sendRaw(port: number, data: string | Buffer, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(error);
    });
    socket.write(data);
  });
}

/**
 * POSTs `totalBytes` with backpressure (64 KiB writes, waiting for drain) and resolves with the
 * response, which may come before the body is all sent (a 504 or 413 while still uploading).
 */
export function sendLargeBody(port: number, host: string, path: string, totalBytes: number): Promise<TestResponse> {
  return new Promise<TestResponse>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { host, 'content-length': String(totalBytes) },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          req.destroy();
        });
      },
    );
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, 'u');
    let sent = 0;
    const pump = (): void => {
      while (sent < totalBytes && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}
