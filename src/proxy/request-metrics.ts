// The proxy's side of the metrics catalogue (src/admin/metrics.ts). Labelled children are
// looked up once per label set and cached: prom-client hashes the labels on every call
// otherwise, which is measurable on the request path.

import type { Counter, Histogram } from 'prom-client';
import type { PorticoMetrics } from '../admin/metrics.ts';

type RequestLabel = 'ingress' | 'namespace' | 'service' | 'status_class';

interface RequestSeries {
  readonly count: Counter.Internal;
  readonly duration: Histogram.Internal<RequestLabel>;
}

/** Label sets beyond this are not cached (they still count); bounds memory if names churn. */
const MAX_CACHED_SERIES = 10_000;

export class RequestMetrics {
  readonly #metrics: PorticoMetrics;
  readonly #series = new Map<string, RequestSeries>();

  constructor(metrics: PorticoMetrics) {
    this.#metrics = metrics;
  }

  /** `ingress` is `ns/name` or '' when no Ingress answered; `service` is the Service name or ''. */
  observeRequest(ingress: string, service: string, status: number, seconds: number): void {
    const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
    const key = `${ingress}\0${service}\0${statusClass}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      const slash = ingress.indexOf('/');
      const labels = {
        ingress: slash >= 0 ? ingress.slice(slash + 1) : ingress,
        namespace: slash >= 0 ? ingress.slice(0, slash) : '',
        service,
        status_class: statusClass,
      };
      series = {
        count: this.#metrics.requests.labels(labels),
        duration: this.#metrics.requestDuration.labels(labels),
      };
      if (this.#series.size < MAX_CACHED_SERIES) this.#series.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  connectError(reason: string): void {
    this.#metrics.upstreamConnectErrors.inc({ reason });
  }

  retry(namespace: string, service: string): void {
    this.#metrics.retries.inc({ namespace, service });
  }
}
