// The proxy's side of the metrics catalogue (src/admin/metrics.ts). Request counts and
// durations go to `requestSeries`, plain numbers that prom-client reads when /metrics is
// scraped: prom-client would validate and hash the labels on every call, which the profile
// showed on the request path (src/admin/request-series.ts).

import type { PorticoMetrics } from '../admin/metrics.ts';

export class RequestMetrics {
  readonly #metrics: PorticoMetrics;

  constructor(metrics: PorticoMetrics) {
    this.#metrics = metrics;
  }

  /** `ingress` is `ns/name` or '' when no Ingress answered; `service` is the Service name or ''. */
  observeRequest(ingress: string, service: string, status: number, seconds: number): void {
    this.#metrics.requestSeries.observe(ingress, service, status, seconds);
  }

  connectError(reason: string): void {
    this.#metrics.upstreamConnectErrors.inc({ reason });
  }

  retry(namespace: string, service: string): void {
    this.#metrics.retries.inc({ namespace, service });
  }
}
