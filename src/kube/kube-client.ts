// The only door to the API server. Authentication, TLS and config loading come from
// @kubernetes/client-node (KubeConfig, its request signing and its Watch); requests and
// responses stay plain JSON so no client-node object ever leaves src/kube (ARCHITECTURE.md).

import { HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import { fetch } from 'undici';

export type HttpVerb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string | undefined;
  /** the request's method, so a 403 can say which RBAC verb was denied */
  readonly method: HttpVerb | undefined;
  constructor(statusCode: number, message: string, reason: string | undefined, method?: HttpVerb) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.method = method;
  }
}

export type WatchEvent = { readonly type: string; readonly object: unknown };

export interface KubeClient {
  readonly server: string;
  request(method: HttpVerb, path: string, body?: unknown, contentType?: string): Promise<unknown>;
  /** Streams watch events until the stream ends; resolves the abort handle once connected. */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    onDone: (error: unknown) => void,
    inactivityTimeoutMs: number,
  ): Promise<AbortController>;
}

/** In-cluster config by default; a kubeconfig file when given (ingress-nginx's --kubeconfig). */
export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromCluster();
  return config;
}

const METHODS = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
} as const;

/** Requests that hang (a half-dead API server) must not stall status writes or relists forever. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createKubeClient(config: KubeConfig): KubeClient {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  return {
    server,
    async request(method, path, body, contentType = 'application/json') {
      const context = new RequestContext(server + path, METHODS[method]);
      await config.applySecurityAuthentication(context);
      const headers = { ...context.getHeaders(), accept: 'application/json' } as Record<string, string>;
      if (body !== undefined) headers['content-type'] = contentType;
      const dispatcher = context.getDispatcher();
      const response = await fetch(server + path, {
        method,
        headers,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(dispatcher ? { dispatcher } : {}),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const status = parsed as { message?: string; reason?: string } | undefined;
        throw new KubeApiError(
          response.status,
          `${method} ${path}: ${response.status} ${status?.message ?? text.slice(0, 200)}`,
          status?.reason,
          method,
        );
      }
      return parsed;
    },
    watch(path, query, onEvent, onDone, inactivityTimeoutMs) {
      const watcher = new Watch(config);
      // Watch's inactivity timeout is declared private but is the knob it has: its 30 s default
      // would cut healthy watches that only hear a bookmark every minute or so.
      (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityTimeoutMs;
      return watcher.watch(path, query, (type, object) => onEvent({ type, object }), onDone);
    },
  };
}
