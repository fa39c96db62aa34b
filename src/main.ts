// Wiring only: config → source (manifests or cluster) → control loop → proxy + admin; then signals.
//
//   ManifestSource | ClusterMode ──apply/markSynced──▶ ControlLoop ──LiveState──▶ proxy (createProxyServer)
//                                            │   (compile + TLS step)                 HTTP and HTTPS listeners
//                       metrics registry ◀───┴──▶ AdminServer (/healthz /readyz /metrics)
//
// Start order: admin first (so /healthz answers and /readyz says 503 while loading), then the
// manifests (the first table is built when they are all read), then the HTTP and HTTPS listeners.
// Stop order (README "Graceful shutdown"): /readyz fails at once; the listeners keep serving for
// the grace period (load balancers and kube-proxy take a few probe periods to notice); then the
// source stops, the proxy stops accepting, tells open WebSockets 1001 Going Away and gives
// in-flight requests up to the shutdown timeout; then the admin listener closes; exit 0.

import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { AdminServer } from './admin/admin-server.ts';
import { createControlMetrics } from './admin/control-metrics.ts';
import { createMetrics } from './admin/metrics.ts';
import { compile } from './compile/compile.ts';
import type { Config } from './config/config.ts';
import { createLogger, type Logger, type ProcessLogger } from './logging/create-logger.ts';
import { createProxyServer, type ProxyServer } from './proxy/create-proxy-server.ts';
import { ControlLoop, type ControlLoopOptions } from './runtime/control-loop.ts';
import { ManifestSource } from './standalone/manifest-source.ts';
import { compileWithTls } from './tls/compile-with-tls.ts';
import { rebuildWhenValidityChanges } from './runtime/validity-rebuild.ts';
import { generateDefaultCertificate } from './tls/default-certificate.ts';

export interface RunningPortico {
  readonly httpAddress: AddressInfo;
  readonly httpsAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly state: ControlLoop;
  readonly logger: Logger;
  /** Drains and closes everything; safe to call more than once. */
  stop(reason: string): Promise<void>;
  /** Ends the grace period of a stop under way now: the listeners close at once. */
  skipGracePeriod(): void;
}

export interface StartOptions {
  /** a logger the caller already made (the demo shares one with its backends) */
  readonly processLogger?: ProcessLogger;
}

export function describeListenError(what: string, host: string, port: number, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'EADDRINUSE'
      ? 'the port is in use'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EADDRNOTAVAIL'
          ? 'the address is not on this machine'
          : error instanceof Error
            ? error.message
            : String(error);
  return new Error(`cannot listen for ${what} on ${host}:${port}: ${why}`, { cause: error });
}

export async function startPortico(config: Config, options: StartOptions = {}): Promise<RunningPortico> {
  const processLogger = options.processLogger ?? createLogger({ level: config.logLevel });
  const { logger } = processLogger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createMetrics(registry);
  const controlMetrics = createControlMetrics(registry);

  // Made before anything listens: HTTPS needs a certificate to answer with from the first handshake.
  const fallbackCertificate = await generateDefaultCertificate();
  logger.info(
    {
      fingerprint256: fallbackCertificate.fingerprint256,
      notAfter: fallbackCertificate.notAfter,
      defaultSslCertificate: config.tls.defaultCertificateSecret,
    },
    config.tls.defaultCertificateSecret === undefined
      ? 'no --default-ssl-certificate: HTTPS hosts without a usable Secret get a self-signed certificate generated at start'
      : 'generated a self-signed certificate, served only while the --default-ssl-certificate Secret is missing or unusable',
  );

  const state = createControlLoop(config, { logger, metrics, controlMetrics });
  let proxyListening = false;
  const isReady = (): boolean => {
    const ready = proxyListening && !stopper.draining() && state.ready;
    controlMetrics.ready.set(ready ? 1 : 0);
    return ready;
  };
  const admin = new AdminServer({ registry, isReady, logger });
  const source = await createSource(config, state, logger);
  const proxy = createProxyServer({
    state,
    logger,
    metrics,
    https: { fallbackCertificate, strictTransportSecurity: config.tls.strictTransportSecurity },
    limits: { limitStatusCode: config.limitStatusCode },
    clientAddress: config.clientAddress,
  });
  // Clients that send no SNI get the server's own context: follow --default-ssl-certificate's Secret.
  state.onSwap(() => proxy.refreshDefaultCertificate());

  const stopper = createStop({
    config,
    processLogger,
    onDraining: isReady,
    serving: () => proxyListening,
    // In-flight requests get up to the shutdown timeout; what is left then is cut.
    closeListeners: () => proxy.close({ graceMs: config.shutdownTimeoutMs }),
    source,
    admin,
    state,
  });

  try {
    const adminAddress = await listenAdmin(admin, config, logger);
    await source.start();
    const { httpAddress, httpsAddress } = await listenProxy(proxy, config);
    proxyListening = true;
    isReady();
    logger.info({ address: httpsAddress.address, port: httpsAddress.port }, 'https listening');
    // Last, and unchanged in shape: tools wait for this line before sending traffic.
    logger.info({ address: httpAddress.address, port: httpAddress.port }, 'proxy listening');
    return {
      httpAddress,
      httpsAddress,
      adminAddress,
      state,
      logger,
      stop: stopper.stop,
      skipGracePeriod: stopper.skipGracePeriod,
    };
  } catch (error) {
    await stopper.stop('start failed');
    throw error;
  }
}

/** The control loop as configured; `buildsOnCommand` for a worker following its primary. */
export function createControlLoop(
  config: Config,
  parts: Pick<ControlLoopOptions, 'logger' | 'metrics' | 'controlMetrics' | 'buildsOnCommand'>,
): ControlLoop {
  const loop = new ControlLoop({
    compile: compileWithTls(compile, { defaultCertificateSecret: config.tls.defaultCertificateSecret }),
    compileOptions: config.compile,
    holdoffMs: config.rebuildHoldoffMs,
    maxDelayMs: config.rebuildMaxDelayMs,
    ...parts,
  });
  // A worker builds when its primary says; the primary's own timer covers it.
  if (parts.buildsOnCommand !== true) rebuildWhenValidityChanges(loop);
  return loop;
}

export async function listenAdmin(admin: AdminServer, config: Config, logger: Logger): Promise<AddressInfo> {
  const address = await admin
    .listen(config.adminPort, config.bindAddress)
    .catch((error: unknown) =>
      Promise.reject(describeListenError('admin', config.bindAddress, config.adminPort, error)),
    );
  logger.info({ address: address.address, port: address.port }, 'admin listening');
  return address;
}

export interface StopParts {
  readonly config: Config;
  readonly processLogger: ProcessLogger;
  /** called as the drain starts (`draining()` is true from then): /readyz fails */
  onDraining(): void;
  /** whether anything serves yet (no grace period for a start that failed) */
  serving(): boolean;
  /** stop accepting and drain in-flight requests, bounded by the shutdown timeout */
  closeListeners(): Promise<void>;
  readonly source: Source;
  readonly admin: AdminServer;
  readonly state: ControlLoop;
}

/**
 * The stop sequence (README "Graceful shutdown"), for one process and for the primary of
 * several: /readyz fails, the grace period while still serving (`skipGracePeriod` ends it),
 * then the source stops, the listeners drain, the admin listener closes.
 */
export function createStop(parts: StopParts): Pick<Stoppable, 'stop' | 'skipGracePeriod'> & { draining(): boolean } {
  const { config, processLogger, source, admin, state } = parts;
  const { logger } = processLogger;
  const gracePeriod = cancellableDelay();
  let stopping: Promise<void> | undefined;
  let draining = false;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      parts.onDraining();
      logger.info(
        { reason, gracePeriodMs: config.shutdownGracePeriodMs, timeoutMs: config.shutdownTimeoutMs },
        'shutting down',
      );
      // Still serving, /readyz failing: load balancers take a few probe periods to notice.
      if (parts.serving() && config.shutdownGracePeriodMs > 0) await gracePeriod.wait(config.shutdownGracePeriodMs);
      logger.info({ reason }, 'grace period over; closing the listeners');
      await source.stop();
      await parts.closeListeners();
      await admin.close();
      state.close();
      logger.info('stopped');
      processLogger.flush();
    })();
    return stopping;
  };
  return { stop, skipGracePeriod: () => gracePeriod.cancel(), draining: () => draining };
}

export interface Source {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/** The manifest files, or the Kubernetes watchers (with status, Events and the Lease), feeding `state`. */
export async function createSource(config: Config, state: ControlLoop, logger: Logger): Promise<Source> {
  return config.kube
    ? // client-node is a heavy import: loaded only when cluster mode runs.
      (await import('./kube/cluster-mode.ts')).createClusterMode(
        config.kube,
        state,
        logger,
        config.compile.controllerClass,
      )
    : new ManifestSource({
        paths: config.manifests,
        sink: state,
        logger,
        holdoffMs: config.manifestWatchHoldoffMs,
        maxDelayMs: config.manifestWatchMaxDelayMs,
        fastHoldoffMs: config.manifestWatchFastHoldoffMs,
      });
}

/** Opens the HTTP and HTTPS listeners; a failure names the listener and why. */
export async function listenProxy(
  proxy: ProxyServer,
  config: Config,
): Promise<{ httpAddress: AddressInfo; httpsAddress: AddressInfo }> {
  const httpAddress = await proxy
    .listen(config.httpPort, config.bindAddress)
    .catch((error: unknown) => Promise.reject(describeListenError('HTTP', config.bindAddress, config.httpPort, error)));
  const httpsAddress = await proxy
    .listenHttps(config.httpsPort, config.bindAddress)
    .catch((error: unknown) =>
      Promise.reject(describeListenError('HTTPS', config.bindAddress, config.httpsPort, error)),
    );
  return { httpAddress, httpsAddress };
}

/** A delay that `cancel()` ends early (also when called before `wait`). */
export function cancellableDelay(): { wait(ms: number): Promise<void>; cancel(): void } {
  let cancelled = false;
  let end: (() => void) | undefined;
  return {
    wait(ms) {
      if (cancelled) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        end = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
    cancel() {
      cancelled = true;
      end?.();
    },
  };
}

export interface Stoppable {
  readonly logger: Logger;
  stop(reason: string): Promise<void>;
  skipGracePeriod(): void;
}

/**
 * SIGTERM/SIGINT: drain and exit 0. `afterStop` runs once Portico has stopped (the demo
 * closes its backends there). A second signal while draining ends the grace period at once
 * (the listeners close, in-flight requests still get the shutdown timeout); a third exits at
 * once with 1.
 */
export function stopOnSignals(portico: Stoppable, afterStop?: () => Promise<void>): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 2) {
      portico.logger.warn({ signal }, 'second signal while draining; closing the listeners now');
      portico.skipGracePeriod();
      return;
    }
    if (received > 2) {
      portico.logger.warn({ signal }, 'third signal while draining; exiting now');
      process.exit(1);
    }
    portico
      .stop(signal)
      .then(() => afterStop?.())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          portico.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
