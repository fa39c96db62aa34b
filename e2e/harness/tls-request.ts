// One HTTPS request with explicit TLS material (CA, client certificate). The
// global fetch() cannot take a client certificate without importing undici's
// Agent, which is not a dependency; node:https can.
import { request } from 'node:https';

export interface TlsMaterial {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface TlsRequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Abort (and reject) if the whole exchange takes longer than this. */
  readonly timeoutMs?: number;
}

export interface TlsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export function requestWithTls(
  url: string | URL,
  tls: TlsMaterial,
  options: TlsRequestOptions = {},
): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ca: tls.ca,
        ...(tls.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls.key === undefined ? {} : { key: tls.key }),
        // A fresh connection per request: tests stop and restart the server, and
        // a pooled socket to the old process would only add confusing errors.
        agent: false,
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}
