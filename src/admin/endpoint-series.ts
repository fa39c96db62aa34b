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

/**
 * Services per block of kept text. A block of 256 Services is about 40 KB of text: small
 * enough to be allocated and dropped young (a 1.6 MB string per scrape went straight to the
 * old generation, and each scrape brought the next full GC closer), large enough that a scrape
 * writes a few dozen chunks.
 */
const SERVICES_PER_BLOCK = 256;

interface Block {
  /** Service keys in the order their series print */
  readonly keys: Set<string>;
  /** their lines, until one of them changes */
  text: string | undefined;
}

export class EndpointSeries {
  readonly name = NAME;
  readonly help = HELP;
  readonly type = 'gauge';
  /** With --workers, every worker holds the same endpoint sets: report one, not their sum. */
  readonly aggregator = 'max';
  /** by `namespace/service`, in the order prom-client keeps series: first set first */
  readonly #series = new Map<string, ServiceSeries & { readonly block: Block }>();
  /**
   * The same order in blocks: a new Service joins the last block, a removed one leaves its
   * block, so reading the blocks in turn gives the Map's order.
   */
  #blocks: Block[] = [];
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
    const block = current?.block ?? this.#lastBlock();
    block.keys.add(key);
    block.text = undefined;
    this.#series.set(key, { namespace, service, ready, terminating, text, block });
  }

  remove(namespace: string, service: string): void {
    const key = `${namespace}/${service}`;
    const current = this.#series.get(key);
    if (current === undefined) return;
    this.#series.delete(key);
    current.block.keys.delete(key);
    current.block.text = undefined;
    // Many emptied blocks (Services gone): lay the blocks out again, in the same order.
    if (this.#blocks.length > 2 * Math.ceil(this.#series.size / SERVICES_PER_BLOCK) + 2) this.#relayBlocks();
  }

  reset(): void {
    this.#series.clear();
    this.#blocks = [];
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

  /**
   * The family as `registry.metrics()` prints it, in pieces to be written one after another:
   * the HELP and TYPE lines, then each block's lines, each piece starting on a new line.
   */
  prometheusChunks(): string[] {
    const chunks = [`# HELP ${NAME} ${HELP}\n# TYPE ${NAME} gauge`];
    for (const block of this.#blocks) {
      if (block.keys.size === 0) continue;
      if (block.text === undefined) {
        const lines: string[] = [];
        for (const key of block.keys) lines.push((this.#series.get(key) as ServiceSeries).text);
        block.text = lines.join('\n');
      }
      chunks.push(`\n${block.text}`);
    }
    return chunks;
  }

  /** The family as `registry.metrics()` prints it. */
  prometheusText(): string {
    return this.prometheusChunks().join('');
  }

  #lastBlock(): Block {
    const last = this.#blocks.at(-1);
    if (last !== undefined && last.keys.size < SERVICES_PER_BLOCK) return last;
    const block: Block = { keys: new Set(), text: undefined };
    this.#blocks.push(block);
    return block;
  }

  #relayBlocks(): void {
    const entries = [...this.#series];
    this.#blocks = [];
    for (const [key, series] of entries) {
      const block = this.#lastBlock();
      block.keys.add(key);
      block.text = undefined;
      this.#series.set(key, { ...series, block });
    }
  }
}

/**
 * `registry.metrics()` in the Prometheus text format, in pieces to write one after another,
 * with families that keep their own text (EndpointSeries) taken from it rather than formatted
 * series by series. Portico's registries have no default labels; with any, or in the
 * OpenMetrics format, the registry prints everything.
 */
export async function renderMetricsChunks(registry: Registry): Promise<string[]> {
  const withDefaultLabels = Object.keys((registry as unknown as { _defaultLabels?: object })._defaultLabels ?? {});
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE || withDefaultLabels.length > 0)
    return [await registry.metrics()];
  const families = await Promise.all(
    registry
      .getMetricsAsArray()
      .map(async (metric: object) =>
        metric instanceof EndpointSeries
          ? metric.prometheusChunks()
          : [await registry.getSingleMetricAsString((metric as { name: string }).name)],
      ),
  );
  const chunks: string[] = [];
  families.forEach((family, index) => {
    if (index > 0) chunks.push('\n\n');
    chunks.push(...family);
  });
  chunks.push('\n');
  return chunks;
}

/** `renderMetricsChunks` as one string: what `registry.metrics()` gives. */
export async function renderMetrics(registry: Registry): Promise<string> {
  return (await renderMetricsChunks(registry)).join('');
}
