// The control loop: the one store of what the sources have read, and the one writer of the
// table the proxy reads (ARCHITECTURE.md data flow).
//
//   apply(change) ─(routes may change)→ debounce (hold-off, hard maximum) → compile → swap
//                 └(EndpointSlice)→ endpoint index, version bump (no compile)
//
// No table is built before the source says it has listed everything once (`markSynced`):
// a table built from half a list would briefly route real hosts to 404 (Contour does the same).

import type { ControlMetrics } from '../admin/control-metrics.ts';
import type { PorticoMetrics } from '../admin/metrics.ts';
import { compile as compileSnapshot } from '../compile/compile.ts';
import type { CompileOptions } from '../compile/compile-options.ts';
import type { Logger } from '../logging/create-logger.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { EndpointSliceRecord } from '../model/records.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { applyChanges, type ClusterChange, type ClusterSnapshot, EMPTY_SNAPSHOT } from '../store/cluster-snapshot.ts';
import { type Clock, systemClock } from './clock.ts';
import type { ClusterSink } from './cluster-sink.ts';
import { createDebouncer, type Debouncer } from './debounce.ts';
import { createDiagnosticTracker, type DiagnosticTracker } from './diagnostic-tracker.ts';
import { EndpointIndex } from './endpoint-index.ts';
import type { EndpointView, LiveState, RoutingState } from './live-state.ts';

export interface ControlLoopOptions {
  readonly compileOptions: CompileOptions;
  readonly holdoffMs: number;
  readonly maxDelayMs: number;
  readonly logger: Logger;
  readonly metrics: PorticoMetrics;
  readonly controlMetrics: ControlMetrics;
  readonly clock?: Clock;
  /** the compiler; replaceable so tests can make a build fail */
  readonly compile?: typeof compileSnapshot;
  /**
   * A worker process (README "Workers"): never builds on its own; the primary says when, and
   * which generation the build is (`rebuildAs`), so every worker serves the same generation.
   */
  readonly buildsOnCommand?: boolean;
}

export interface TableSwap {
  readonly generation: number;
  readonly table: RouteTable;
  readonly diagnostics: readonly Diagnostic[];
  /** the snapshot the table was compiled from */
  readonly snapshot: ClusterSnapshot;
}

export type SwapListener = (swap: TableSwap) => void;
export type ApplyListener = (changes: readonly ClusterChange[]) => void;

export class ControlLoop implements LiveState, ClusterSink {
  readonly #options: ControlLoopOptions;
  readonly #clock: Clock;
  readonly #compile: typeof compileSnapshot;
  readonly #debouncer: Debouncer;
  readonly #diagnostics: DiagnosticTracker = createDiagnosticTracker();
  readonly #endpoints = new EndpointIndex();
  #snapshot: ClusterSnapshot = EMPTY_SNAPSHOT;
  /** the last build's result, whose unchanged parts the next build reuses */
  #lastBuild: ReturnType<typeof compileSnapshot> | undefined;
  #routing: RoutingState;
  #synced = false;
  #closed = false;
  readonly #swapListeners: SwapListener[] = [];
  readonly #applyListeners: ApplyListener[] = [];

  constructor(options: ControlLoopOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#compile = options.compile ?? compileSnapshot;
    // Generation 0 is the empty table the proxy sees before the first build (everything 404s).
    this.#routing = Object.freeze({
      table: this.#compile(EMPTY_SNAPSHOT, options.compileOptions).table,
      generation: 0,
    });
    this.#debouncer = createDebouncer({
      holdoffMs: options.holdoffMs,
      maxDelayMs: Math.max(options.holdoffMs, options.maxDelayMs),
      clock: this.#clock,
      run: () => this.#rebuild(),
    });
  }

  routing(): RoutingState {
    return this.#routing;
  }

  get endpoints(): EndpointView {
    return this.#endpoints;
  }

  get snapshot(): ClusterSnapshot {
    return this.#snapshot;
  }

  /** the source has listed everything once and at least one table has been built */
  get ready(): boolean {
    return this.#synced && this.#routing.generation > 0;
  }

  apply(change: ClusterChange): void {
    this.applyChanges([change]);
  }

  /**
   * Applies a batch with one snapshot copy per touched kind: an initial list of thousands of
   * objects, applied one change at a time, would copy a collection per object.
   */
  applyChanges(changes: readonly ClusterChange[]): void {
    if (this.#closed || changes.length === 0) return;
    this.#options.controlMetrics.lastChange.setToCurrentTime();
    const touchedServices = new Set<string>();
    // Slices as of the previous change in this batch, so two changes to one slice chain.
    const latestSlices = new Map<string, EndpointSliceRecord | undefined>();
    for (const change of changes) {
      const kind = change.type === 'upsert' ? change.record.kind : change.kind;
      if (kind !== 'EndpointSlice') continue;
      const key = change.type === 'upsert' ? change.record.key : change.key;
      const previous = latestSlices.has(key) ? latestSlices.get(key) : this.#snapshot.endpointSlices.get(key);
      const next = change.type === 'upsert' ? (change.record as EndpointSliceRecord) : undefined;
      for (const serviceKey of this.#endpoints.replaceSlice(previous, next)) touchedServices.add(serviceKey);
      latestSlices.set(key, next);
    }
    const applied = applyChanges(this.#snapshot, changes);
    this.#snapshot = applied.snapshot;
    for (const serviceKey of touchedServices) this.#publishEndpointCounts(serviceKey);
    for (const listener of this.#applyListeners) this.#notify(listener, changes);
    if (applied.routesChanged && this.#synced && this.#options.buildsOnCommand !== true) this.#debouncer.request();
  }

  /** Called after every applied batch, in order (the primary relays them to its workers). */
  onApply(listener: ApplyListener): void {
    this.#applyListeners.push(listener);
  }

  /** Called after every table swap (status writing, Events); listener errors are logged, never thrown. */
  onSwap(listener: SwapListener): void {
    this.#swapListeners.push(listener);
  }

  /** The source has delivered its full initial list: build the first table now. */
  markSynced(): void {
    if (this.#closed || this.#synced) return;
    this.#synced = true;
    if (this.#options.buildsOnCommand !== true) this.#rebuild();
  }

  /** Builds from the current snapshot now, numbered `generation` (a worker following its primary). */
  rebuildAs(generation: number): void {
    this.#debouncer.cancel();
    this.#rebuild(generation);
  }

  /**
   * A rebuild after the usual hold-off although nothing changed: the table's own view of time
   * is out of date (a certificate expired or became valid). Ignored before the first build and
   * in a worker, which builds on its primary's command.
   */
  requestRebuild(): void {
    if (this.#closed || !this.#synced || this.#options.buildsOnCommand === true) return;
    this.#debouncer.request();
  }

  /** Builds now if a rebuild is waiting for its hold-off (tests, shutdown). */
  flush(): void {
    this.#debouncer.flush();
  }

  close(): void {
    this.#closed = true;
    this.#debouncer.cancel();
  }

  #rebuild(generation = this.#routing.generation + 1): void {
    if (this.#closed) return;
    const { logger, metrics, controlMetrics, compileOptions } = this.#options;
    const snapshot = this.#snapshot;
    const startedAt = this.#clock.now();
    let result: ReturnType<typeof compileSnapshot>;
    try {
      result = this.#compile(snapshot, compileOptions, this.#lastBuild);
    } catch (error) {
      // compile is written never to throw; if it does anyway, the last good table stays.
      metrics.tableBuilds.inc({ result: 'error' });
      logger.error(
        { err: error, generation: this.#routing.generation },
        'routing table build failed; keeping the last table',
      );
      return;
    }
    const durationMs = this.#clock.now() - startedAt;
    this.#lastBuild = result;
    this.#routing = Object.freeze({ table: result.table, generation });

    metrics.tableBuilds.inc({ result: 'success' });
    metrics.tableBuildDuration.observe(durationMs / 1000);
    metrics.tableGeneration.set(generation);
    const changes = this.#diagnostics.update(result.diagnostics);
    controlMetrics.diagnostics.reset();
    for (const [code, count] of changes.countsByCode) controlMetrics.diagnostics.set({ code }, count);
    for (const diagnostic of changes.appeared) {
      controlMetrics.diagnosticsReported.inc({ code: diagnostic.code });
      logger.warn({ object: diagnostic.object, code: diagnostic.code }, diagnostic.reason);
    }
    for (const diagnostic of changes.resolved) {
      logger.info({ object: diagnostic.object, code: diagnostic.code }, `resolved: ${diagnostic.reason}`);
    }
    logger.info(
      {
        generation,
        routes: result.table.routeCount,
        ingresses: result.table.servedIngresses.length,
        diagnostics: result.diagnostics.length,
        durationMs: Math.round(durationMs * 1000) / 1000,
      },
      'routing table swapped',
    );
    const swap: TableSwap = { generation, table: result.table, diagnostics: result.diagnostics, snapshot };
    for (const listener of this.#swapListeners) this.#notify(listener, swap);
  }

  #notify<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.#options.logger.error({ err: error, generation: this.#routing.generation }, 'control loop listener failed');
    }
  }

  #publishEndpointCounts(serviceKey: string): void {
    const slash = serviceKey.indexOf('/');
    const [namespace, service] = [serviceKey.slice(0, slash), serviceKey.slice(slash + 1)];
    const counts = this.#endpoints.conditionCounts(serviceKey);
    const series = this.#options.metrics.endpoints;
    if (!counts) {
      series.remove(namespace, service);
      return;
    }
    series.set(namespace, service, counts.ready, counts.terminating);
    this.#options.logger.debug(
      { service: serviceKey, ...counts, version: this.#endpoints.version },
      'endpoints updated',
    );
  }
}
