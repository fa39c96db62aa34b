// `portico_endpoints` kept as text per Service must print exactly what a prom-client Gauge
// prints for the same changes (series order, escaping, values), give the same values to
// getMetricsAsJSON (the workers' aggregation), and format only the Services that changed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { renderMetrics } from '../../src/admin/endpoint-series.ts';
import { createMetrics } from '../../src/admin/metrics.ts';

type Change = readonly [namespace: string, service: string, counts: readonly [number, number] | undefined];

/** New Services, counts changed in place, removals and re-adds, names that need escaping. */
const CHANGES: readonly Change[] = [
  ['default', 'web', [2, 0]],
  ['shop', 'cart', [1, 1]],
  ['default', 'api', [0, 0]],
  ['default', 'web', [3, 1]],
  ['shop', 'cart', undefined],
  ['odd', 'quote"back\\slash\nnewline', [1, 0]],
  ['shop', 'cart', [4, 0]],
  ['default', 'api', [0, 2]],
  ['default', 'gone', undefined],
  ['default', 'web', [3, 1]],
];

/** The Gauge as control-loop.ts used it before. */
function referenceGauge(registry: Registry): (change: Change) => void {
  const gauge = new Gauge({
    name: 'portico_endpoints',
    help: 'Endpoints per Service, by condition',
    labelNames: ['namespace', 'service', 'condition'],
    aggregator: 'max',
    registers: [registry],
  });
  return ([namespace, service, counts]) => {
    if (counts === undefined) {
      gauge.remove({ namespace, service, condition: 'ready' });
      gauge.remove({ namespace, service, condition: 'terminating' });
      return;
    }
    gauge.set({ namespace, service, condition: 'ready' }, counts[0]);
    gauge.set({ namespace, service, condition: 'terminating' }, counts[1]);
  };
}

describe('portico_endpoints', () => {
  it('prints and reports what a prom-client Gauge does, after every change', async () => {
    const registry = new Registry();
    const { endpoints } = createMetrics(registry);
    const reference = new Registry();
    const applyToGauge = referenceGauge(reference);
    for (const change of CHANGES) {
      const [namespace, service, counts] = change;
      if (counts === undefined) endpoints.remove(namespace, service);
      else endpoints.set(namespace, service, counts[0], counts[1]);
      applyToGauge(change);
      const expected = await reference.getSingleMetricAsString('portico_endpoints');
      assert.equal(endpoints.prometheusText(), expected);
      assert.equal(await registry.getSingleMetricAsString('portico_endpoints'), expected);
      const [json] = (await reference.getMetricsAsJSON()).filter((metric) => metric.name === 'portico_endpoints');
      const ours = (await registry.getMetricsAsJSON()).find((metric) => metric.name === 'portico_endpoints');
      assert.deepEqual(
        ours?.values.map(({ value, labels }) => ({ value, labels })),
        json?.values.map(({ value, labels }) => ({ value, labels })),
      );
      assert.equal(ours?.aggregator, 'max');
    }
  });

  it('stays equal to the Gauge over 3,000 Services: blocks filled, emptied and laid out again', async () => {
    const registry = new Registry();
    const { endpoints } = createMetrics(registry);
    const reference = new Registry();
    const applyToGauge = referenceGauge(reference);
    const changes: Change[] = [];
    for (let index = 0; index < 3_000; index++) changes.push(['scale', `svc-${index}`, [2, 0]]);
    for (let index = 0; index < 3_000; index += 7) changes.push(['scale', `svc-${index}`, undefined]);
    for (let index = 0; index < 3_000; index += 14) changes.push(['scale', `svc-${index}`, [1, 1]]);
    for (let index = 3; index < 3_000; index += 5) changes.push(['scale', `svc-${index}`, [index % 4, 1]]);
    for (let index = 0; index < 2_950; index++) changes.push(['scale', `svc-${index}`, undefined]);
    for (let index = 0; index < 300; index += 3) changes.push(['scale', `svc-${index}`, [3, 0]]);
    let step = 0;
    for (const change of changes) {
      const [namespace, service, counts] = change;
      if (counts === undefined) endpoints.remove(namespace, service);
      else endpoints.set(namespace, service, counts[0], counts[1]);
      applyToGauge(change);
      if (++step % 97 === 0 || step === changes.length)
        assert.equal(
          endpoints.prometheusText(),
          await reference.getSingleMetricAsString('portico_endpoints'),
          `after change ${step}`,
        );
    }
  });

  it('renderMetrics prints the whole registry as registry.metrics() does', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry);
    metrics.endpoints.set('default', 'web', 2, 1);
    metrics.endpoints.set('shop', 'cart', 1, 0);
    metrics.requestSeries.observe('default/web', 'web', 200, 0.004);
    metrics.tableBuilds.inc({ result: 'success' });
    metrics.tableBuildDuration.observe(0.2);
    metrics.retries.inc({ namespace: 'default', service: 'web' });
    const text = await renderMetrics(registry);
    assert.equal(text, await registry.metrics());
    assert.match(text, /^portico_endpoints\{namespace="shop",service="cart",condition="ready"\} 1$/m);
  });

  it('formats the Service that changed, not every Service', () => {
    const { endpoints } = createMetrics(new Registry());
    for (let index = 0; index < 1_000; index++) endpoints.set('scale', `svc-${index}`, 2, 0);
    const first = endpoints.prometheusText();
    const formatted = endpoints.formattedServices;
    endpoints.set('scale', 'svc-500', 1, 1);
    endpoints.set('scale', 'svc-501', 2, 0);
    assert.equal(endpoints.formattedServices - formatted, 1, 'one Service changed; an unchanged set formats nothing');
    const second = endpoints.prometheusText();
    assert.notEqual(second, first);
    assert.equal(
      second,
      first
        .replace('svc-500",condition="ready"} 2', 'svc-500",condition="ready"} 1')
        .replace('svc-500",condition="terminating"} 0', 'svc-500",condition="terminating"} 1'),
    );
    assert.equal(endpoints.formattedServices - formatted, 1);
  });
});
