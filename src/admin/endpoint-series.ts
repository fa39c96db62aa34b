// `portico_endpoints`: two series per Service (ready, terminating), so 20,000 at 10,000
// Services. As a prom-client Gauge, every /metrics scrape formatted each series anew (label
// objects, escaping, joins): 110–230 ms of blocked event loop per scrape at 10,000 Services
// (bench/README.md, `npm run bench:scale`), during which no request was proxied. Here each
// Service's two lines are formatted once, when its counts change, and the family's text is
// joined again only after some Service changed.
//
// The object is registered in the prom-client registry like a Gauge: `get()` gives the same
// values (getMetricsAsJSON, the workers' aggregation, tests), `registry.metrics()` still prints
// it, and `renderMetrics` below prints the text kept here instead. A test compares both texts
// with a prom-client Gauge given the same changes, byte for byte.

import { type Metric, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';

type EndpointLabel = 'namespace' | 'service' | 'condition';

interface ServiceSeries {
  readonly namespace: string;
  readonly service: string;
  readonly ready: number;
  readonly terminating: number;
  /** the Service's two exposition lines */
  readonly text: string;
}

const NAME = 'portico_endpoints';
const HELP = 'Endpoints per Service, by condition';

/** prom-client's label value escaping (lib/registry.js `escapeLabelValue`): \ and newline, then ". */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** prom-client's number format (lib/util.js `getValueAsString`). */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

/** Registers the family (prom-client's registry takes any object with its metric methods). */
export function registerEndpointSeries(registry: Registry): EndpointSeries {
  const series = new EndpointSeries();
  registry.registerMetric(series as unknown as Metric);
  return series;
}

export class EndpointSeries {
  readonly name = NAME;
  readonly help = HELP;
  readonly type = 'gauge';
  /** With --workers, every worker holds the same endpoint sets: report one, not their sum. */
  readonly aggregator = 'max';
  /** by `namespace/service`, in the order prom-client keeps series: first set first */
  readonly #series = new Map<string, ServiceSeries>();
  /** the family's text, until the next change */
  #text: string | undefined;
  /** Service line pairs formatted so far (tests read it: a change formats one Service, not all) */
  formattedServices = 0;

  /** The Service's counts; a Service already listed keeps its place, as a Gauge's series do. */
  set(namespace: string, service: string, ready: number, terminating: number): void {
    const key = `${namespace}/${service}`;
    const current = this.#series.get(key);
    if (current?.ready === ready && current.terminating === terminating) return;
    const labels = `namespace="${escapeLabelValue(namespace)}",service="${escapeLabelValue(service)}"`;
    const text =
      `${NAME}{${labels},condition="ready"} ${formatValue(ready)}\n` +
      `${NAME}{${labels},condition="terminating"} ${formatValue(terminating)}`;
    this.formattedServices++;
    this.#series.set(key, { namespace, service, ready, terminating, text });
    this.#text = undefined;
  }

  remove(namespace: string, service: string): void {
    if (this.#series.delete(`${namespace}/${service}`)) this.#text = undefined;
  }

  reset(): void {
    this.#series.clear();
    this.#text = undefined;
  }

  /** No collect step: the series are set as endpoints change (prom-client calls this on `get`). */
  collect(): void {}

  /** The values in prom-client's shape (getMetricsAsJSON, AggregatorRegistry). */
  async get(): Promise<MetricObjectWithValues<MetricValue<EndpointLabel>>> {
    const values: MetricValue<EndpointLabel>[] = [];
    for (const { namespace, service, ready, terminating } of this.#series.values()) {
      values.push({ value: ready, labels: { namespace, service, condition: 'ready' } });
      values.push({ value: terminating, labels: { namespace, service, condition: 'terminating' } });
    }
    return {
      name: NAME,
      help: HELP,
      type: this.type as unknown as MetricObjectWithValues<MetricValue<EndpointLabel>>['type'],
      aggregator: this.aggregator,
      collect: this.collect,
      values,
    };
  }

  /** The family as `registry.metrics()` prints it, from the lines kept per Service. */
  prometheusText(): string {
    if (this.#text === undefined) {
      const parts = [`# HELP ${NAME} ${HELP}`, `# TYPE ${NAME} gauge`];
      for (const series of this.#series.values()) parts.push(series.text);
      this.#text = parts.join('\n');
    }
    return this.#text;
  }
}

/**
 * `registry.metrics()` in the Prometheus text format, with families that keep their own text
 * (EndpointSeries) printed from it rather than series by series. Portico's registries have no
 * default labels; with any, or in the OpenMetrics format, the registry prints everything.
 */
export async function renderMetrics(registry: Registry): Promise<string> {
  const withDefaultLabels = Object.keys((registry as unknown as { _defaultLabels?: object })._defaultLabels ?? {});
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE || withDefaultLabels.length > 0)
    return registry.metrics();
  const families = await Promise.all(
    registry
      .getMetricsAsArray()
      .map((metric: object) =>
        metric instanceof EndpointSeries
          ? metric.prometheusText()
          : registry.getSingleMetricAsString((metric as { name: string }).name),
      ),
  );
  return `${families.join('\n\n')}\n`;
}
