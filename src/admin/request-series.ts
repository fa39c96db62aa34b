// Per-request counts for `portico_requests_total` and `portico_request_duration_seconds`, kept
// in plain numbers and handed to prom-client only when /metrics is scraped (its `collect`
// hook). prom-client validates and hashes the label set on every `inc` and `observe`, and
// keys a histogram's buckets by the bound as a string: about 4% of the proxy's CPU per
// request (bench/README.md). Here a request costs two Map lookups on strings the routing
// table already holds, and three additions. The exported text is what prom-client printed
// before: the same names, labels, series order (first observation first) and sums (the same
// additions in the same order).

import type { Counter, Histogram } from 'prom-client';

export type RequestLabel = 'ingress' | 'namespace' | 'service' | 'status_class';

type RequestLabels = Record<RequestLabel, string>;

/** One label set's figures. */
interface Series {
  readonly labels: RequestLabels;
  count: number;
  sum: number;
  /** observations per bucket, not cumulative: index i counts values in (bound[i-1], bound[i]] */
  readonly buckets: number[];
}

/** The shape of prom-client's per-series histogram value (lib/histogram.js `createBaseValues`). */
interface HistogramValue {
  labels: RequestLabels;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** Status classes by hundreds digit; anything outside 100..599 is `other`. */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
const OTHER = STATUS_CLASSES.length - 1;

export class RequestSeries {
  readonly #bounds: readonly number[];
  /** ingress → service → status class index → series; first observation first */
  readonly #byIngress = new Map<string, Map<string, (Series | undefined)[]>>();
  readonly #all: Series[] = [];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  /** `ingress` is `ns/name` or '' when no Ingress answered; `service` is the Service name or ''. */
  observe(ingress: string, service: string, status: number, seconds: number): void {
    let byService = this.#byIngress.get(ingress);
    if (byService === undefined) {
      byService = new Map();
      this.#byIngress.set(ingress, byService);
    }
    let byClass = byService.get(service);
    if (byClass === undefined) {
      byClass = [];
      byService.set(service, byClass);
    }
    const classIndex = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : OTHER;
    const series = byClass[classIndex] ?? this.#add(byClass, classIndex, ingress, service);
    series.count += 1;
    series.sum += seconds;
    // prom-client's rule (lib/histogram.js findBound): the first bound the value does not exceed.
    const bounds = this.#bounds;
    for (let index = 0; index < bounds.length; index++) {
      if (seconds <= (bounds[index] as number)) {
        (series.buckets[index] as number)++;
        break;
      }
    }
  }

  #add(byClass: (Series | undefined)[], classIndex: number, ingress: string, service: string): Series {
    const slash = ingress.indexOf('/');
    const series: Series = {
      labels: {
        ingress: slash >= 0 ? ingress.slice(slash + 1) : ingress,
        namespace: slash >= 0 ? ingress.slice(0, slash) : '',
        service,
        status_class: STATUS_CLASSES[classIndex] as string,
      },
      count: 0,
      sum: 0,
      buckets: this.#bounds.map(() => 0),
    };
    byClass[classIndex] = series;
    this.#all.push(series);
    return series;
  }

  /** `collect` for the requests counter: its values rebuilt from the counts, through its own API. */
  collectCount(counter: Counter<RequestLabel>): void {
    counter.reset();
    for (const series of this.#all) counter.inc(series.labels, series.count);
  }

  /**
   * `collect` for the duration histogram. prom-client has no API to set a histogram's buckets,
   * so its per-series values are written in its own shape (a test compares the exported text
   * with prom-client's `observe` for the same observations, so an upgrade that changes the
   * shape fails there).
   */
  collectDuration(histogram: Histogram<RequestLabel>): void {
    const values: Record<string, HistogramValue> = {};
    this.#all.forEach((series, index) => {
      const bucketValues: Record<number, number> = {};
      this.#bounds.forEach((bound, bucket) => {
        bucketValues[bound] = series.buckets[bucket] as number;
      });
      values[String(index)] = { labels: series.labels, bucketValues, sum: series.sum, count: series.count };
    });
    (histogram as unknown as { hashMap: Record<string, HistogramValue> }).hashMap = values;
  }
}
