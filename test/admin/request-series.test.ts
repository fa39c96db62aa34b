// The request metrics counted outside prom-client must export exactly what prom-client's own
// `inc` and `observe` export for the same requests: names, labels, series order, buckets, sums.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics } from '../../src/admin/metrics.ts';

type Observation = readonly [ingress: string, service: string, status: number, seconds: number];

/** Every status class, '' for no Ingress or Service, values on, between and past the bounds. */
const OBSERVATIONS: readonly Observation[] = [
  ['default/web', 'web', 200, 0.0004],
  ['default/web', 'web', 204, 0.001],
  ['default/web', 'web', 503, 0.0100001],
  ['', '', 404, 0],
  ['shop/cart', 'cart-v2', 302, 0.25],
  ['default/web', 'api', 101, 61],
  ['', '', 400, 0.0025],
  ['default/web', 'web', 200, 0.1 + 0.2],
  ['shop/cart', 'cart-v2', 499, 60],
  ['default/web', 'web', 0, 1.5],
  ['default/web', 'web', 600, 0.003],
  ['default/web', 'web', 200, 7e-7],
];

/** The metrics as prom-client counted them before: labelled children, `inc` and `observe`. */
function referenceRegistry(): { registry: Registry; observe: (observation: Observation) => void } {
  const registry = new Registry();
  const labelNames = ['ingress', 'namespace', 'service', 'status_class'] as const;
  const requests = new Counter({
    name: 'portico_requests_total',
    help: 'Requests answered, by Ingress, Service and status class',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'portico_request_duration_seconds',
    help: 'Time from request received to response finished',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return {
    registry,
    observe([ingress, service, status, seconds]) {
      const slash = ingress.indexOf('/');
      const labels = {
        ingress: slash >= 0 ? ingress.slice(slash + 1) : ingress,
        namespace: slash >= 0 ? ingress.slice(0, slash) : '',
        service,
        status_class: status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other',
      };
      requests.labels(labels).inc();
      duration.labels(labels).observe(seconds);
    },
  };
}

async function exported(registry: Registry): Promise<string> {
  const names = ['portico_requests_total', 'portico_request_duration_seconds'];
  return (await Promise.all(names.map((name) => registry.getSingleMetricAsString(name)))).join('\n');
}

describe('request series', () => {
  it('export the same text as prom-client observing the same requests, scrape after scrape', async () => {
    const metrics = createMetrics(new Registry());
    const reference = referenceRegistry();
    assert.equal(await exported(metrics.registry), await exported(reference.registry), 'before any request');
    const half = OBSERVATIONS.length / 2;
    for (const [index, observation] of OBSERVATIONS.entries()) {
      metrics.requestSeries.observe(...observation);
      reference.observe(observation);
      if (index === half) {
        assert.equal(await exported(metrics.registry), await exported(reference.registry), 'half way');
      }
    }
    const text = await exported(metrics.registry);
    assert.equal(text, await exported(reference.registry));
    assert.match(
      text,
      /portico_requests_total\{ingress="web",namespace="default",service="web",status_class="2xx"\} 4/,
    );
    assert.equal(await exported(metrics.registry), text, 'a second scrape reads the same');
  });

  it('export the same JSON as prom-client', async () => {
    const metrics = createMetrics(new Registry());
    const reference = referenceRegistry();
    for (const observation of OBSERVATIONS) {
      metrics.requestSeries.observe(...observation);
      reference.observe(observation);
    }
    const json = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('portico_request'));
    assert.deepEqual(await json(metrics.registry), await json(reference.registry));
  });
});
