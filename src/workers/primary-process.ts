// The primary of `--workers N` (README "Workers"): it owns the source (manifest files or the
// Kubernetes watches), leader election, Ingress status and Events, and the admin listener; it
// proxies nothing. Its control loop compiles as in one process (status and Events need the
// table), and relays every applied batch and every table swap to the workers, which build the
// same generation from the same records.
//
//   source ──▶ ControlLoop ──onApply: changes──▶ every worker (in order, over IPC)
//                   └──────onSwap: build(generation)──▶ every worker
//   admin: /readyz (every worker has a table and listens), /metrics (the workers' aggregated)
//
// A worker that dies is forked again with backoff; the others keep serving. SIGTERM drains
// as in one process: /readyz fails, the grace period, then each worker drains its requests.

import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { AdminServer } from '../admin/admin-server.ts';
import { createControlMetrics } from '../admin/control-metrics.ts';
import { createMetrics } from '../admin/metrics.ts';
import type { Config } from '../config/config.ts';
import { createBackoff } from '../kube/backoff.ts';
import { createLogger, type Logger } from '../logging/create-logger.ts';
import { createControlLoop, createSource, createStop, listenAdmin, type Stoppable } from '../main.ts';
import type { ControlLoop } from '../runtime/control-loop.ts';
import { generateDefaultCertificate } from '../tls/default-certificate.ts';
import type { KeyPair } from '../tls/tls-settings.ts';
import { isMessage, type PrimaryMessage, type WorkerMessage } from './worker-messages.ts';

/** A replacement worker waits 100 ms, doubling up to 10 s while workers keep dying at start. */
const RESPAWN_BASE_MS = 100;
const RESPAWN_MAX_MS = 10_000;
/** A worker that does not answer a metrics request within this is left out of that scrape. */
const METRICS_WAIT_MS = 2_000;
/** Past the shutdown timeout, workers get this long to exit before they are killed. */
const WORKER_EXIT_MARGIN_MS = 5_000;

interface WorkerState {
  readonly worker: Worker;
  initialized: boolean;
  generation: number;
  listening: boolean;
}

export interface RunningPrimary extends Stoppable {
  readonly adminAddress: AddressInfo;
}

export async function runPrimary(config: Config): Promise<RunningPrimary> {
  const processLogger = createLogger({ level: config.logLevel });
  const { logger } = processLogger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const controlMetrics = createControlMetrics(registry);
  const workersGauge = new Gauge({
    name: 'portico_workers',
    help: 'Worker processes running, and of those serving (listening with a table)',
    labelNames: ['state'],
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'portico_worker_restarts_total',
    help: 'Worker processes forked again after one exited unexpectedly',
    registers: [registry],
  });

  const fallbackCertificate = await generateDefaultCertificate();
  logger.info(
    { fingerprint256: fallbackCertificate.fingerprint256, notAfter: fallbackCertificate.notAfter },
    'generated a self-signed certificate for HTTPS hosts without a usable Secret (shared by every worker)',
  );
  // The request and table metrics come from the workers; this loop's would count twice. Its
  // endpoint series is the one exception: every worker holds the same endpoint sets as this
  // loop, so /metrics prints portico_endpoints from here and the workers leave it out.
  const loopMetrics = createMetrics(new Registry());
  const state = createControlLoop(config, { logger, metrics: loopMetrics, controlMetrics });

  const supervisor = new WorkerSupervisor({
    count: config.workers,
    logger,
    fallbackCertificate: { certPem: fallbackCertificate.certPem, keyPem: fallbackCertificate.keyPem },
    state,
    onChange: () => {
      isReady();
    },
    onRestart: () => restarts.inc(),
  });
  const isReady = (): boolean => {
    const counts = supervisor.counts();
    workersGauge.set({ state: 'running' }, counts.running);
    workersGauge.set({ state: 'serving' }, counts.serving);
    const ready = !stopper.draining() && state.ready && supervisor.serving();
    controlMetrics.ready.set(ready ? 1 : 0);
    return ready;
  };
  const admin = new AdminServer({
    registry,
    isReady,
    logger,
    collectMetrics: async () => {
      isReady();
      const all = [await registry.getMetricsAsJSON(), ...(await supervisor.collectMetrics())];
      const aggregated = AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]);
      // Families are separated by a blank line and the text ends with a newline (registry.metrics()).
      return `${await aggregated.metrics()}\n${loopMetrics.endpoints.prometheusText()}\n`;
    },
  });
  const source = await createSource(config, state, logger);
  state.onApply((changes) => supervisor.broadcast({ type: 'portico:changes', changes }));
  state.onSwap((swap) => supervisor.broadcast({ type: 'portico:build', generation: swap.generation }));

  const stopper = createStop({
    config,
    processLogger,
    onDraining: isReady,
    serving: () => supervisor.serving(),
    // Each worker stops accepting and drains its in-flight requests.
    closeListeners: () => supervisor.drain(config.shutdownTimeoutMs),
    source,
    admin,
    state,
  });

  try {
    const adminAddress = await listenAdmin(admin, config, logger);
    supervisor.start();
    await source.start();
    const ports = await supervisor.firstServing();
    isReady();
    logger.info({ workers: config.workers }, 'every worker serves');
    logger.info({ address: config.bindAddress, port: ports.httpsPort }, 'https listening');
    // Last, and unchanged in shape: tools wait for this line before sending traffic.
    logger.info({ address: config.bindAddress, port: ports.httpPort }, 'proxy listening');
    return { adminAddress, logger, stop: stopper.stop, skipGracePeriod: stopper.skipGracePeriod };
  } catch (error) {
    await stopper.stop('start failed');
    throw error;
  }
}

interface SupervisorOptions {
  readonly count: number;
  readonly logger: Logger;
  readonly fallbackCertificate: KeyPair;
  readonly state: ControlLoop;
  /** a worker started, exited or changed generation */
  readonly onChange: () => void;
  readonly onRestart: () => void;
}

/** Forks the workers, relays to them, forks a replacement when one dies, drains them at the end. */
class WorkerSupervisor {
  readonly #options: SupervisorOptions;
  readonly #workers = new Map<number, WorkerState>();
  readonly #backoff = createBackoff(RESPAWN_BASE_MS, RESPAWN_MAX_MS);
  readonly #metricsRequests = new Map<number, (metrics: WorkerMetrics) => void>();
  #nextRequestId = 0;
  #stopping = false;
  #everServing = false;
  #ports: { httpPort: number; httpsPort: number } | undefined;
  #firstServing: { resolve: (ports: { httpPort: number; httpsPort: number }) => void; reject: (error: Error) => void };
  readonly #firstServingPromise: Promise<{ httpPort: number; httpsPort: number }>;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    let resolve: (ports: { httpPort: number; httpsPort: number }) => void = () => {};
    let reject: (error: Error) => void = () => {};
    this.#firstServingPromise = new Promise((resolvePromise, rejectPromise) => {
      resolve = resolvePromise;
      reject = rejectPromise;
    });
    // Nobody may be waiting yet when a worker fails; the rejection is read by firstServing().
    this.#firstServingPromise.catch(() => {});
    this.#firstServing = { resolve, reject };
  }

  start(): void {
    // Structured clone: records keep their shape (Maps, undefined) across the channel.
    cluster.setupPrimary({ serialization: 'advanced' });
    for (let index = 0; index < this.#options.count; index++) this.#fork();
  }

  /** Resolves with the shared ports once every worker listens with a table; rejects when one could not listen. */
  firstServing(): Promise<{ httpPort: number; httpsPort: number }> {
    return this.#firstServingPromise;
  }

  /** Every worker listened once; from then on, ready while at least one serves (a replacement is on its way). */
  serving(): boolean {
    return this.#everServing && this.counts().serving > 0;
  }

  counts(): { running: number; serving: number } {
    let serving = 0;
    for (const entry of this.#workers.values()) if (entry.listening && entry.generation > 0) serving++;
    return { running: this.#workers.size, serving };
  }

  broadcast(message: PrimaryMessage): void {
    for (const entry of this.#workers.values()) if (entry.initialized) this.#send(entry.worker, message);
  }

  async collectMetrics(): Promise<WorkerMetrics[]> {
    const answers = [...this.#workers.values()].map(
      ({ worker }) =>
        new Promise<WorkerMetrics | undefined>((resolve) => {
          const requestId = this.#nextRequestId++;
          const timer = setTimeout(() => {
            this.#metricsRequests.delete(requestId);
            resolve(undefined);
          }, METRICS_WAIT_MS);
          this.#metricsRequests.set(requestId, (metrics) => {
            clearTimeout(timer);
            this.#metricsRequests.delete(requestId);
            resolve(metrics);
          });
          if (!this.#send(worker, { type: 'portico:metrics-request', requestId })) {
            clearTimeout(timer);
            this.#metricsRequests.delete(requestId);
            resolve(undefined);
          }
        }),
    );
    return (await Promise.all(answers)).filter((metrics) => metrics !== undefined);
  }

  /** Tells every worker to drain within `timeoutMs`; kills those still running past a margin. */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) {
            resolve();
            return;
          }
          worker.once('exit', () => resolve());
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs + WORKER_EXIT_MARGIN_MS);
          worker.once('exit', () => clearTimeout(timer));
          if (!this.#send(worker, { type: 'portico:drain', timeoutMs })) worker.process.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
  }

  #send(worker: Worker, message: PrimaryMessage): boolean {
    if (!worker.isConnected()) return false;
    try {
      worker.send(message);
      return true;
    } catch (error) {
      this.#options.logger.warn({ err: error, worker: worker.id, message: message.type }, 'could not send to a worker');
      return false;
    }
  }

  #fork(): void {
    const { logger } = this.#options;
    const worker = cluster.fork();
    const entry: WorkerState = { worker, initialized: false, generation: 0, listening: false };
    this.#workers.set(worker.id, entry);
    logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker started');
    worker.on('message', (message: unknown) => this.#onMessage(entry, message));
    // An IPC write to a worker that just died: its exit is handled below.
    worker.on('error', (error) => logger.debug({ err: error, worker: worker.id }, 'worker channel error'));
    worker.once('exit', (code, signal) => {
      this.#workers.delete(worker.id);
      this.#options.onChange();
      if (this.#stopping) return;
      logger.error(
        { worker: worker.id, workerPid: worker.process.pid, code, signal },
        'worker exited; starting another',
      );
      if (!this.#everServing) {
        // Dying before every worker served is a start failure, not something to retry.
        this.#firstServing.reject(new Error(`worker ${worker.id} exited while starting (${signal ?? code})`));
        return;
      }
      this.#options.onRestart();
      setTimeout(() => {
        if (!this.#stopping) this.#fork();
      }, this.#backoff.next()).unref();
    });
  }

  #onMessage(entry: WorkerState, message: unknown): void {
    if (!isMessage<WorkerMessage>(message)) return;
    switch (message.type) {
      case 'portico:hello': {
        const { state, fallbackCertificate } = this.#options;
        const snapshot = state.snapshot;
        const records = [
          ...snapshot.ingressClasses.values(),
          ...snapshot.ingresses.values(),
          ...snapshot.services.values(),
          ...snapshot.endpointSlices.values(),
          ...snapshot.secrets.values(),
        ];
        entry.initialized = this.#send(entry.worker, {
          type: 'portico:init',
          records,
          generation: state.routing().generation,
          fallbackCertificate,
        });
        return;
      }
      case 'portico:table':
        entry.generation = message.generation;
        entry.listening = message.listening;
        if (message.listening) {
          this.#ports ??= { httpPort: message.httpPort, httpsPort: message.httpsPort };
          this.#backoff.reset();
          if (!this.#everServing && this.counts().serving === this.#options.count) {
            this.#everServing = true;
            this.#firstServing.resolve(this.#ports);
          }
        }
        this.#options.onChange();
        return;
      case 'portico:failed':
        this.#firstServing.reject(new Error(message.message));
        return;
      case 'portico:metrics':
        this.#metricsRequests.get(message.requestId)?.(message.metrics);
        return;
    }
  }
}

type WorkerMetrics = readonly MetricObjectWithValues<MetricValue<string>>[];
