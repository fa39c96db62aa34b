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
  };
}
