// Metrics of the control side that the catalogue in metrics.ts does not hold yet: compile
// diagnostics and readiness. Registered on the same injected registry.

import { Counter, Gauge, type Registry } from 'prom-client';

export interface ControlMetrics {
  /** diagnostics in the table in force, by code */
  readonly diagnostics: Gauge<'code'>;
  /** distinct diagnostics that appeared (each counted once, when first seen), by code */
  readonly diagnosticsReported: Counter<'code'>;
  /** 1 while /readyz answers 200 */
  readonly ready: Gauge<never>;
  /** Unix time the source last handed changed objects to the store */
  readonly lastChange: Gauge<never>;
}

export function createControlMetrics(registry: Registry): ControlMetrics {
  return {
    diagnostics: new Gauge({
      name: 'portico_diagnostics',
      help: 'Diagnostics reported by the routing table build in force, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    diagnosticsReported: new Counter({
      name: 'portico_diagnostics_reported_total',
      help: 'Distinct diagnostics that appeared, counted once when first seen, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'portico_ready',
      help: '1 when the source has synced, the first table is built and the process is not draining',
      registers: [registry],
    }),
    // Like Prometheus's own *_last_reload_success_timestamp_seconds: tells when a change got
    // past the source (after the manifest hold-off and rescan; a watch event in cluster mode),
    // which `npm run bench:scale` uses to split endpoint change -> traffic in two.
    lastChange: new Gauge({
      name: 'portico_last_change_timestamp_seconds',
      help: 'When the source last handed changed objects to the store (manifest rescan or watch event), Unix time',
      registers: [registry],
    }),
  };
}
