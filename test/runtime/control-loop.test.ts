import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createControlMetrics } from '../../src/admin/control-metrics.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import { compile } from '../../src/compile/compile.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import type { ServiceBackend } from '../../src/endpoints/service-endpoints.ts';
import type { ClusterRecord } from '../../src/model/records.ts';
import { matchRequest } from '../../src/routing/match-request.ts';
import { ControlLoop } from '../../src/runtime/control-loop.ts';
import { parseManifestText } from '../../src/standalone/read-manifests.ts';
import {
  type EndpointConditions,
  endpointSliceYaml,
  INGRESS_CLASS_YAML,
  ingressYaml,
  serviceYaml,
  yamlStream,
} from '../standalone/manifest-snippets.ts';
import { captureLogger, LEVEL } from './capture-logger.ts';
import { ManualClock } from './manual-clock.ts';

function records(yaml: string): ClusterRecord[] {
  const parsed = parseManifestText(yaml, 'inline.yaml');
  assert.deepEqual(parsed.problems, []);
  return parsed.records;
}

function one(yaml: string): ClusterRecord {
  const [record] = records(yaml);
  assert.ok(record);
  return record;
}

const BASE = yamlStream(INGRESS_CLASS_YAML, serviceYaml('web', 8080), serviceYaml('web2', 8080));

function ingress(path: string, service: string, name = 'example'): ClusterRecord {
  return one(ingressYaml({ name, host: 'hello-world.info', path, service, port: 8080 }));
}

function slice(name: string, service: string, addresses: Record<string, EndpointConditions>): ClusterRecord {
  return one(endpointSliceYaml(name, service, 18080, addresses));
}

function setup(options: { compile?: typeof compile; buildsOnCommand?: boolean } = {}) {
  const clock = new ManualClock();
  const { logger, lines } = captureLogger();
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const loop = new ControlLoop({
    compileOptions: DEFAULT_COMPILE_OPTIONS,
    holdoffMs: 50,
    maxDelayMs: 500,
    logger,
    metrics,
    controlMetrics: createControlMetrics(registry),
    clock,
    ...(options.compile ? { compile: options.compile } : {}),
    ...(options.buildsOnCommand ? { buildsOnCommand: true } : {}),
  });
  for (const record of records(BASE)) loop.apply({ type: 'upsert', record });
  return { clock, lines, registry, loop };
}

function backendFor(loop: ControlLoop, path: string): ServiceBackend {
  const result = matchRequest(loop.routing().table, 'hello-world.info', path);
  assert.equal(result.kind, 'route', JSON.stringify(result));
  const backend = result.kind === 'route' ? result.match.route.backend : undefined;
  assert.equal(backend?.kind, 'service');
  return backend as ServiceBackend;
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([key, expected]) => String(v.labels[key]) === expected),
  );
  return value?.value ?? 0;
}

describe('control loop', () => {
  it('builds nothing before the source has synced, then builds at once', () => {
    const { loop } = setup();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    assert.equal(loop.routing().generation, 0);
    assert.equal(loop.ready, false);
    assert.equal(matchRequest(loop.routing().table, 'hello-world.info', '/').kind, 'not-found');
    loop.markSynced();
    assert.equal(loop.routing().generation, 1);
    assert.equal(loop.ready, true);
    assert.equal(backendFor(loop, '/').serviceKey, 'default/web');
  });

  it('a worker (buildsOnCommand) builds only when told, numbered as told; a primary relays its batches', () => {
    const primary = setup().loop;
    const worker = setup({ buildsOnCommand: true });
    primary.onApply((changes) => worker.loop.applyChanges(changes));
    primary.onSwap((swap) => worker.loop.rebuildAs(swap.generation));
    worker.loop.applyChanges(
      [...primary.snapshot.ingressClasses.values(), ...primary.snapshot.services.values()].map((record) => ({
        type: 'upsert' as const,
        record,
      })),
    );
    worker.loop.markSynced();
    assert.equal(worker.loop.routing().generation, 0, 'synced, but no build until the primary says so');

    primary.apply({ type: 'upsert', record: ingress('/', 'web') });
    primary.markSynced();
    assert.equal(worker.loop.routing().generation, 1);
    assert.equal(backendFor(worker.loop, '/').serviceKey, 'default/web');

    primary.apply({ type: 'upsert', record: ingress('/', 'web2') });
    worker.clock.advance(1_000);
    assert.equal(worker.loop.routing().generation, 1, 'a worker never builds on its own hold-off');
    assert.equal(backendFor(worker.loop, '/').serviceKey, 'default/web');
    primary.flush();
    assert.equal(worker.loop.routing().generation, 2);
    assert.equal(backendFor(worker.loop, '/').serviceKey, 'default/web2');
    assert.equal(worker.loop.snapshot.ingresses.size, primary.snapshot.ingresses.size);
  });

  it('debounces route changes and swaps the table atomically', () => {
    const { clock, loop } = setup();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    loop.markSynced();
    const before = loop.routing();
    loop.apply({ type: 'upsert', record: ingress('/', 'web2') });
    loop.apply({ type: 'upsert', record: ingress('/v2', 'web2', 'second') });
    clock.advance(49);
    assert.equal(loop.routing(), before, 'no swap inside the hold-off');
    clock.advance(1);
    const after = loop.routing();
    assert.equal(after.generation, 2, 'two changes, one build');
    assert.equal(backendFor(loop, '/').serviceKey, 'default/web2');
    assert.equal(backendFor(loop, '/v2/x').serviceKey, 'default/web2');
    // The old state object is untouched: a request holding it finishes on the old table.
    assert.equal(before.generation, 1);
    assert.equal(matchRequest(before.table, 'hello-world.info', '/v2').kind, 'route');
    assert.ok(Object.isFrozen(after));
  });

  it('EndpointSlice changes take the fast path: new endpoints, new version, no rebuild', async () => {
    const { clock, loop, registry } = setup();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    loop.markSynced();
    const backend = backendFor(loop, '/');
    assert.deepEqual(loop.endpoints.endpointsFor(backend), []);
    const version0 = loop.endpoints.version;

    loop.apply({ type: 'upsert', record: slice('web-a', 'web', { '127.0.0.11': {}, '127.0.0.12': {} }) });
    assert.deepEqual(
      loop.endpoints.endpointsFor(backend).map((e) => e.id),
      ['127.0.0.11:18080', '127.0.0.12:18080'],
    );
    assert.ok(loop.endpoints.version > version0);
    assert.equal(await metricValue(registry, 'portico_endpoints', { service: 'web', condition: 'ready' }), 2);

    const version1 = loop.endpoints.version;
    loop.apply({
      type: 'upsert',
      record: slice('web-b', 'web', { '127.0.0.13': { ready: false, terminating: true } }),
    });
    const endpoints = loop.endpoints.endpointsFor(backend);
    assert.deepEqual(
      endpoints.map((e) => `${e.id} ready=${e.ready} terminating=${e.terminating}`),
      [
        '127.0.0.11:18080 ready=true terminating=false',
        '127.0.0.12:18080 ready=true terminating=false',
        '127.0.0.13:18080 ready=false terminating=true',
      ],
    );
    assert.ok(Object.isFrozen(endpoints));
    assert.equal(loop.endpoints.endpointsFor(backend), endpoints, 'cached until the Service changes');
    assert.ok(loop.endpoints.version > version1);
    assert.equal(await metricValue(registry, 'portico_endpoints', { service: 'web', condition: 'terminating' }), 1);

    loop.apply({ type: 'delete', kind: 'EndpointSlice', key: 'default/web-a' });
    assert.deepEqual(
      loop.endpoints.endpointsFor(backend).map((e) => e.id),
      ['127.0.0.13:18080'],
    );
    loop.apply({ type: 'delete', kind: 'EndpointSlice', key: 'default/web-b' });
    assert.deepEqual(loop.endpoints.endpointsFor(backend), []);
    clock.advance(10_000);
    assert.equal(loop.routing().generation, 1, 'no table was rebuilt for endpoint changes');
    assert.equal(await metricValue(registry, 'portico_table_builds_total', { result: 'success' }), 1);
  });

  it('a slice moved to another Service leaves the first one', () => {
    const { loop } = setup();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    loop.apply({ type: 'upsert', record: ingress('/v2', 'web2', 'second') });
    loop.markSynced();
    loop.apply({ type: 'upsert', record: slice('moving', 'web', { '127.0.0.11': {} }) });
    loop.apply({ type: 'upsert', record: slice('moving', 'web2', { '127.0.0.21': {} }) });
    assert.deepEqual(loop.endpoints.endpointsFor(backendFor(loop, '/')), []);
    assert.deepEqual(
      loop.endpoints.endpointsFor(backendFor(loop, '/v2')).map((e) => e.id),
      ['127.0.0.21:18080'],
    );
  });

  it('logs each distinct diagnostic once, however many rebuilds, and counts it', async () => {
    const { clock, loop, lines, registry } = setup();
    loop.apply({ type: 'upsert', record: ingress('/', 'missing-service') });
    loop.markSynced();
    for (let i = 0; i < 3; i++) {
      loop.apply({ type: 'upsert', record: ingress(`/other${i}`, 'web', `extra${i}`) });
      clock.advance(100);
    }
    assert.equal(loop.routing().generation, 4);
    const warnings = lines.filter((line) => line.level === LEVEL.warn);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]?.object, 'Ingress default/example');
    const code = String(warnings[0]?.code);
    assert.equal(await metricValue(registry, 'portico_diagnostics_reported_total', { code }), 1);
    assert.equal(await metricValue(registry, 'portico_diagnostics', { code }), 1);

    // Fixed: the gauge drops, a resolution line is logged; broken again: logged again.
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    clock.advance(100);
    assert.equal(await metricValue(registry, 'portico_diagnostics', { code }), 0);
    assert.ok(lines.some((line) => String(line.msg).startsWith('resolved: ')));
    loop.apply({ type: 'upsert', record: ingress('/', 'missing-service') });
    clock.advance(100);
    assert.equal(lines.filter((line) => line.level === LEVEL.warn).length, 2);
    assert.equal(await metricValue(registry, 'portico_diagnostics_reported_total', { code }), 2);
  });

  it('an Ingress status written back (status-only update) builds nothing; the new status is kept', () => {
    const { clock, loop } = setup();
    const served = ingress('/', 'web');
    loop.apply({ type: 'upsert', record: served });
    loop.markSynced();
    const before = loop.routing();
    assert.equal(served.kind, 'Ingress');
    const withStatus = { ...served, statusAddresses: [{ ip: '192.0.2.1', hostname: undefined }] } as ClusterRecord;
    loop.apply({ type: 'upsert', record: withStatus });
    clock.advance(1_000);
    assert.equal(loop.routing(), before, 'no rebuild for a status-only update');
    assert.equal(loop.snapshot.ingresses.get(served.key), withStatus);
  });

  it('records when the source last handed over a change, and not for an empty batch', async () => {
    const { loop, registry } = setup();
    const before = Date.now() / 1000;
    loop.apply({ type: 'upsert', record: slice('web-a', 'web', { '127.0.0.11': { ready: true } }) });
    const after = Date.now() / 1000;
    const stamped = await metricValue(registry, 'portico_last_change_timestamp_seconds');
    assert.ok(stamped >= Math.floor(before * 1000) / 1000 && stamped <= after, `${before} <= ${stamped} <= ${after}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    loop.applyChanges([]);
    assert.equal(await metricValue(registry, 'portico_last_change_timestamp_seconds'), stamped);
  });

  it('counts builds and records their duration and generation', async () => {
    const { clock, loop, registry } = setup();
    loop.markSynced();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    clock.advance(100);
    assert.equal(await metricValue(registry, 'portico_table_builds_total', { result: 'success' }), 2);
    assert.equal(await metricValue(registry, 'portico_table_generation'), 2);
    const text = await registry.metrics();
    assert.match(text, /portico_table_build_duration_seconds_count 2/);
  });

  it('a build that throws keeps the last table and is counted as an error', async () => {
    let fail = false;
    const { clock, loop, lines, registry } = setup({
      compile: (snapshot, options) => {
        if (fail) throw new Error('boom');
        return compile(snapshot, options);
      },
    });
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    loop.markSynced();
    const good = loop.routing();
    fail = true;
    loop.apply({ type: 'upsert', record: ingress('/', 'web2') });
    clock.advance(100);
    assert.equal(loop.routing(), good);
    assert.equal(await metricValue(registry, 'portico_table_builds_total', { result: 'error' }), 1);
    assert.ok(lines.some((line) => line.level === LEVEL.error));
    fail = false;
    // A real edit: an update equal to the stored record (status aside) is no route change.
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    clock.advance(100);
    assert.equal(loop.routing().generation, 2);
  });

  it('close stops pending rebuilds and ignores later changes', () => {
    const { clock, loop } = setup();
    loop.markSynced();
    loop.apply({ type: 'upsert', record: ingress('/', 'web') });
    loop.close();
    clock.advance(1_000);
    loop.apply({ type: 'upsert', record: ingress('/', 'web2') });
    clock.advance(1_000);
    assert.equal(loop.routing().generation, 1);
  });
});
