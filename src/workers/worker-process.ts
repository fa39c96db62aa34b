// One worker of `--workers N` (README "Workers"): a control loop fed by the primary over IPC,
// and the proxy listening on the ports node:cluster shares between the workers. No source,
// no admin listener, no Kubernetes client: the primary owns those.
//
//   primary ──init / changes / build──▶ ControlLoop (buildsOnCommand) ──▶ proxy (HTTP, HTTPS)
//           ◀──table (generation, listening) / metrics──
//
// Signals are the primary's business (in a terminal, Ctrl-C reaches the whole process group):
// a worker drains when the primary says so, or when the primary is gone (IPC disconnected).

import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { createControlMetrics } from '../admin/control-metrics.ts';
import { createMetrics } from '../admin/metrics.ts';
import type { Config } from '../config/config.ts';
import { createLogger } from '../logging/create-logger.ts';
import { createControlLoop, listenProxy } from '../main.ts';
import { createProxyServer } from '../proxy/create-proxy-server.ts';
import { isMessage, type PrimaryMessage, type WorkerMessage } from './worker-messages.ts';

/** Set to 1 (tests only), HTTP/1 responses name the worker in `x-portico-worker`. */
export const WORKER_HEADER_ENV = 'PORTICO_DEBUG_WORKER_HEADER';
/** How long a worker whose primary died gives its in-flight requests. */
const ORPHAN_DRAIN_MS = 5_000;

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

type InitMessage = Extract<PrimaryMessage, { type: 'portico:init' }>;
type RelayedMessage = Exclude<PrimaryMessage, InitMessage>;

/**
 * Listens from the start, so no message can slip past: `init` resolves the promise; the others
 * wait in order until `handle` is set.
 */
function receiveFromPrimary(): {
  init: Promise<InitMessage>;
  handleWith(handler: (message: RelayedMessage) => void): void;
} {
  let resolveInit: ((message: InitMessage) => void) | undefined;
  const init = new Promise<InitMessage>((resolve) => {
    resolveInit = resolve;
  });
  const early: RelayedMessage[] = [];
  let handle: ((message: RelayedMessage) => void) | undefined;
  process.on('message', (message: unknown) => {
    if (!isMessage<PrimaryMessage>(message)) return;
    if (message.type === 'portico:init') resolveInit?.(message);
    else if (handle) handle(message);
    else early.push(message);
  });
  send({ type: 'portico:hello' });
  return {
    init,
    handleWith(handler) {
      handle = handler;
      for (const message of early.splice(0)) handler(message);
    },
  };
}

export async function runWorker(config: Config): Promise<void> {
  const workerId = String(cluster.worker?.id ?? 0);
  const processLogger = createLogger({ level: config.logLevel });
  const logger = processLogger.logger.child({ worker: workerId });
  // The primary drains everyone; a signal here (a terminal's Ctrl-C) must not cut requests.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createMetrics(registry);
  // Diagnostics and readiness are reported once, by the primary.
  const controlMetrics = createControlMetrics(new Registry());
  const requestsReceived = new Counter({
    name: 'portico_worker_requests_total',
    help: 'Requests received, by worker process (with --workers above 1)',
    labelNames: ['worker'],
    registers: [registry],
  }).labels(workerId);

  const primary = receiveFromPrimary();
  const init = await primary.init;
  const state = createControlLoop(config, { logger, metrics, controlMetrics, buildsOnCommand: true });
  const proxy = createProxyServer({
    state,
    logger,
    metrics,
    https: {
      fallbackCertificate: init.fallbackCertificate,
      strictTransportSecurity: config.tls.strictTransportSecurity,
    },
    limits: { limitStatusCode: config.limitStatusCode },
    clientAddress: config.clientAddress,
  });
  proxy.server.on('request', () => requestsReceived.inc());
  proxy.https?.server.on('request', () => requestsReceived.inc());
  if (process.env[WORKER_HEADER_ENV] === '1') {
    // Tests only: which worker answered, for attributing failures when one is killed.
    proxy.server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      if (!response.headersSent) response.setHeader('x-portico-worker', workerId);
    });
  }

  let ports = { httpPort: 0, httpsPort: 0 };
  let listening = false;
  const report = (): void =>
    send({ type: 'portico:table', generation: state.routing().generation, listening, ...ports });
  state.onSwap(() => {
    proxy.refreshDefaultCertificate();
    report();
  });

  let draining: Promise<void> | undefined;
  const drain = (timeoutMs: number, reason: string): Promise<void> => {
    draining ??= (async () => {
      logger.info({ reason, timeoutMs }, 'worker draining');
      await proxy.close({ graceMs: timeoutMs });
      state.close();
      processLogger.flush();
      process.exit(0);
    })();
    return draining;
  };
  // The primary is gone (killed): nobody will relay changes or say when to stop.
  process.on('disconnect', () => void drain(ORPHAN_DRAIN_MS, 'primary gone'));

  let firstTable: (() => void) | undefined;
  const hasTable = new Promise<void>((resolve) => {
    firstTable = resolve;
  });
  state.applyChanges(init.records.map((record) => ({ type: 'upsert', record })));
  state.markSynced();
  if (init.generation > 0) {
    state.rebuildAs(init.generation);
    firstTable?.();
  }
  primary.handleWith((message) => {
    switch (message.type) {
      case 'portico:changes':
        state.applyChanges(message.changes);
        return;
      case 'portico:build':
        state.rebuildAs(message.generation);
        firstTable?.();
        return;
      case 'portico:drain':
        void drain(message.timeoutMs, 'primary asked');
        return;
      case 'portico:metrics-request':
        registry.getMetricsAsJSON().then(
          (values) =>
            send({
              type: 'portico:metrics',
              requestId: message.requestId,
              // The primary prints portico_endpoints from its own control loop, which holds the
              // same endpoint sets: 20,000 series at 10,000 Services are not sent over IPC.
              metrics: values.filter((metric) => metric.name !== metrics.endpoints.name),
            }),
          (error: unknown) => logger.error({ err: error }, 'metrics collection failed'),
        );
        return;
    }
  });
  // As in one process: the listeners open once there is a table to serve from.
  await hasTable;
  try {
    const { httpAddress, httpsAddress } = await listenProxy(proxy, config);
    ports = { httpPort: httpAddress.port, httpsPort: httpsAddress.port };
  } catch (error) {
    send({ type: 'portico:failed', message: error instanceof Error ? error.message : String(error) });
    processLogger.flush();
    process.exit(1);
  }
  listening = true;
  logger.info({ generation: state.routing().generation, ...ports }, 'worker listening');
  report();
}
