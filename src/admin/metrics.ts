// Every Prometheus metric Portico exports, declared in one place on an injected registry
// (tests make their own registry; the process has one).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type EndpointSeries, registerEndpointSeries } from './endpoint-series.ts';
import { type RequestLabel, RequestSeries } from './request-series.ts';

export interface PorticoMetrics {
  readonly registry: Registry;
  /** labels: ingress, namespace, service, status_class (2xx..5xx); filled from `requestSeries` at scrape time */
  readonly requests: Counter<RequestLabel>;
  readonly requestDuration: Histogram<RequestLabel>;
  /** where the proxy counts requests (`observe`), read by the two metrics above when scraped */
  readonly requestSeries: RequestSeries;
  /** labels: reason (refused, reset, timeout, ...) */
  readonly upstreamConnectErrors: Counter<'reason'>;
  readonly retries: Counter<'namespace' | 'service'>;
  /** labels: namespace, service, condition (ready, terminating) */
  readonly endpoints: EndpointSeries;
  readonly tableBuilds: Counter<'result'>;
  readonly tableBuildDuration: Histogram<never>;
  readonly tableGeneration: Gauge<never>;
}

export function createMetrics(registry: Registry): PorticoMetrics {
  const requestLabels = ['ingress', 'namespace', 'service', 'status_class'] as const;
  const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  const requestSeries = new RequestSeries(durationBuckets);
  return {
    registry,
    requests: new Counter({
      name: 'portico_requests_total',
      help: 'Requests answered, by Ingress, Service and status class',
      labelNames: requestLabels,
      registers: [registry],
      collect() {
        requestSeries.collectCount(this);
      },
    }),
    requestDuration: new Histogram({
      name: 'portico_request_duration_seconds',
      help: 'Time from request received to response finished',
      labelNames: requestLabels,
      buckets: durationBuckets,
      registers: [registry],
      collect() {
        requestSeries.collectDuration(this);
      },
    }),
    requestSeries,
    upstreamConnectErrors: new Counter({
      name: 'portico_upstream_connect_errors_total',
      help: 'Failed connections to upstream endpoints, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'portico_upstream_retries_total',
      help: 'Requests retried on another endpoint',
      labelNames: ['namespace', 'service'],
      registers: [registry],
    }),
    // portico_endpoints (namespace, service, condition): its text kept per Service, see endpoint-series.ts
    endpoints: registerEndpointSeries(registry),
    tableBuilds: new Counter({
      name: 'portico_table_builds_total',
      help: 'Routing table compilations, by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    tableBuildDuration: new Histogram({
      name: 'portico_table_build_duration_seconds',
      help: 'Time to compile the routing table',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    tableGeneration: new Gauge({
      name: 'portico_table_generation',
      help: 'Generation of the routing table in force',
      // With --workers: the generation every worker has reached.
      aggregator: 'min',
      registers: [registry],
    }),
  };
}
