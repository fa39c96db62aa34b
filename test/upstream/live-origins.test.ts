// Every backend a request can reach keeps its pools: route backends, host and cluster default
// backends, canary backends and `default-backend` annotations (error pages, no-endpoint
// fallback). A backend left out would have its pools closed by every reconcile.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { Endpoint, ServiceBackend } from '../../src/endpoints/service-endpoints.ts';
import type { EndpointSliceRecord } from '../../src/model/records.ts';
import { EndpointIndex } from '../../src/runtime/endpoint-index.ts';
import type { EndpointView } from '../../src/runtime/live-state.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { collectBackends, collectLiveEndpoints, LiveEndpointTracker } from '../../src/upstream/live-origins.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml, type TestEndpoint } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

test('collectBackends includes canary and default-backend annotation backends', () => {
  const { table, diagnostics } = compile(
    snapshotFromRecords(
      recordsFromYaml(
        manifests(
          serviceYaml('app'),
          serviceYaml('app-canary'),
          serviceYaml('errors'),
          ingressYaml('main', 'a.test', [{ path: '/', service: 'app' }], { [`${NGINX}default-backend`]: 'errors' }),
          ingressYaml('canary', 'a.test', [{ path: '/', service: 'app-canary' }], {
            [`${NGINX}canary`]: 'true',
            [`${NGINX}canary-weight`]: '10',
          }),
        ),
      ),
    ),
  );
  assert.deepEqual(diagnostics, []);
  const services = [...collectBackends(table)].map((backend) => backend.ref?.service).sort();
  assert.deepEqual(services, ['app', 'app-canary', 'errors']);
});

function slice(service: string, endpoints: readonly TestEndpoint[]): EndpointSliceRecord {
  return recordsFromYaml(sliceYaml(service, endpoints))[0] as EndpointSliceRecord;
}

/** The real index, counting which Services' endpoints were looked up. */
class CountingView implements EndpointView {
  readonly index = new EndpointIndex();
  lookups: string[] = [];
  get version(): number {
    return this.index.version;
  }
  endpointsFor(backend: ServiceBackend): readonly Endpoint[] {
    this.lookups.push(backend.serviceKey);
    return this.index.endpointsFor(backend);
  }
  servicesChangedSince(version: number): ReadonlySet<string> | undefined {
    return this.index.servicesChangedSince(version);
  }
  take(): string[] {
    return [...new Set(this.lookups.splice(0))].sort();
  }
}

function tableFor(...services: string[]) {
  return compile(
    snapshotFromRecords(
      recordsFromYaml(
        manifests(
          ...services.map((name) => serviceYaml(name)),
          ...services.map((name) => ingressYaml(name, `${name}.test`, [{ path: '/', service: name }])),
        ),
      ),
    ),
  ).table;
}

function sorted(live: { origins: ReadonlySet<string>; endpointIds: ReadonlySet<string> }) {
  return { origins: [...live.origins].sort(), endpointIds: [...live.endpointIds].sort() };
}

test('LiveEndpointTracker looks again only at the Services whose endpoints changed, and agrees with a full walk', () => {
  const view = new CountingView();
  const table = tableFor('a', 'b');
  let a = slice('a', [{ ip: '10.0.0.1', port: 8080 }]);
  view.index.replaceSlice(undefined, a);
  view.index.replaceSlice(undefined, slice('b', [{ ip: '10.0.0.2', port: 8080 }]));
  const tracker = new LiveEndpointTracker();
  const expectSame = () => {
    const live = sorted(tracker.update(table, view));
    const lookupsByTracker = view.take();
    assert.deepEqual(live, sorted(collectLiveEndpoints(table, view)));
    view.take();
    return { live, lookups: lookupsByTracker };
  };

  assert.deepEqual(expectSame().lookups, ['default/a', 'default/b'], 'the first update walks the whole table');

  // a moves to another endpoint: only a is looked at; b's endpoint stays live.
  const moved = slice('a', [{ ip: '10.0.0.3', port: 8080 }]);
  view.index.replaceSlice(a, moved);
  a = moved;
  const step = expectSame();
  assert.deepEqual(step.lookups, ['default/a']);
  assert.deepEqual(step.live.endpointIds, ['10.0.0.2:8080', '10.0.0.3:8080']);

  // An endpoint both Services list stays live while either still lists it.
  const shared = slice('a', [{ ip: '10.0.0.2', port: 8080 }]);
  view.index.replaceSlice(a, shared);
  a = shared;
  assert.deepEqual(expectSame().live.endpointIds, ['10.0.0.2:8080']);
  view.index.replaceSlice(a, undefined);
  const gone = expectSame();
  assert.deepEqual(gone.lookups, ['default/a']);
  assert.deepEqual(gone.live.endpointIds, ['10.0.0.2:8080'], 'b still lists it');

  // A slice of a Service no route uses: nothing to look at.
  view.index.replaceSlice(undefined, slice('unused', [{ ip: '10.0.0.9', port: 8080 }]));
  assert.deepEqual(expectSame().lookups, []);

  // No change: nothing looked at.
  assert.deepEqual(expectSame().lookups, []);

  // A new table with the same backends: nothing looked up again.
  const next = tableFor('a', 'b');
  const live = sorted(tracker.update(next, view));
  assert.deepEqual(view.take(), [], 'an equal table: no Service looked up again');
  assert.deepEqual(live, sorted(collectLiveEndpoints(next, view)));
  view.take();
  // A new table object holding the same backend objects (routes kept from the last build).
  const kept = { ...next };
  const keptLive = sorted(tracker.update(kept, view));
  assert.deepEqual(view.take(), [], 'the same backends: no Service looked up again');
  assert.deepEqual(keptLive, sorted(collectLiveEndpoints(kept, view)));
  view.take();
});

test('after a table swap, LiveEndpointTracker looks up only new, changed or moved Services', () => {
  const view = new CountingView();
  const slices = new Map(
    ['a', 'b', 'c'].map((name, index) => [name, slice(name, [{ ip: `10.0.0.${index + 1}`, port: 8080 }])]),
  );
  for (const record of slices.values()) view.index.replaceSlice(undefined, record);
  const tracker = new LiveEndpointTracker();
  const step = (table: ReturnType<typeof tableFor>) => {
    const live = sorted(tracker.update(table, view));
    const lookups = view.take();
    assert.deepEqual(live, sorted(collectLiveEndpoints(table, view)), 'agrees with a full walk');
    view.take();
    return { live, lookups };
  };
  assert.deepEqual(step(tableFor('a', 'b')).lookups, ['default/a', 'default/b']);
  // c appears: only c is looked up.
  assert.deepEqual(step(tableFor('a', 'b', 'c')).lookups, ['default/c']);
  // b's endpoints move while a new table comes: b is looked up, with the table.
  view.index.replaceSlice(slices.get('b'), slice('b', [{ ip: '10.0.0.4', port: 8080 }]));
  const moved = step(tableFor('a', 'b', 'c'));
  assert.deepEqual(moved.lookups, ['default/b']);
  assert.deepEqual(moved.live.endpointIds, ['10.0.0.1:8080', '10.0.0.3:8080', '10.0.0.4:8080']);
  // a leaves the table: its endpoint goes, nothing is looked up.
  const left = step(tableFor('b', 'c'));
  assert.deepEqual(left.lookups, []);
  assert.deepEqual(left.live.endpointIds, ['10.0.0.3:8080', '10.0.0.4:8080']);
  // c's backend changes protocol: c is looked up again, and its pools follow.
  const https = compile(
    snapshotFromRecords(
      recordsFromYaml(
        manifests(
          serviceYaml('b'),
          serviceYaml('c'),
          ingressYaml('b', 'b.test', [{ path: '/', service: 'b' }]),
          ingressYaml('c', 'c.test', [{ path: '/', service: 'c' }], { [`${NGINX}backend-protocol`]: 'HTTPS' }),
        ),
      ),
    ),
  ).table;
  const protocol = step(https);
  assert.deepEqual(protocol.lookups, ['default/c']);
  assert.deepEqual(protocol.live.origins, ['http://10.0.0.4:8080', 'https://10.0.0.3:8080']);
});

test('EndpointIndex.servicesChangedSince names the Services touched after a version, and forgets old ones', () => {
  const index = new EndpointIndex();
  const a1 = slice('a', [{ ip: '10.0.0.1', port: 80 }]);
  index.replaceSlice(undefined, a1);
  const afterA = index.version;
  index.replaceSlice(undefined, slice('b', [{ ip: '10.0.0.2', port: 80 }]));
  index.replaceSlice(undefined, slice('c', [{ ip: '10.0.0.3', port: 80 }]));
  assert.deepEqual([...(index.servicesChangedSince(afterA) ?? [])].sort(), ['default/b', 'default/c']);
  assert.deepEqual([...(index.servicesChangedSince(index.version) ?? ['?'])], []);
  assert.equal(index.servicesChangedSince(index.version + 1), undefined, 'a version not reached yet');
  const a2 = slice('a', [{ ip: '10.0.1.1', port: 80 }]);
  for (let step = 0; step < 1500; step++) {
    index.replaceSlice(a1, a2);
    index.replaceSlice(a2, a1);
  }
  assert.equal(index.servicesChangedSince(afterA), undefined, 'too long ago: the caller walks everything');
  assert.deepEqual([...(index.servicesChangedSince(index.version - 5) ?? [])], ['default/a']);
});

test('backend-protocol AUTO_HTTP keeps the pools of both protocols live: HTTP/1.1 and TLS', () => {
  const records = recordsFromYaml(
    manifests(
      serviceYaml('auto'),
      serviceYaml('external', { externalName: 'backend.example' }),
      serviceYaml('virtual', { clusterIP: '10.96.0.7' }),
      ingressYaml(
        'auto',
        'auto.test',
        [
          { path: '/', service: 'auto' },
          { path: '/external', service: 'external' },
        ],
        { [`${NGINX}backend-protocol`]: 'AUTO_HTTP' },
      ),
      ingressYaml('virtual', 'virtual.test', [{ path: '/', service: 'virtual' }], {
        [`${NGINX}backend-protocol`]: 'AUTO_HTTP',
        [`${NGINX}service-upstream`]: 'true',
      }),
    ),
  );
  const { table, diagnostics } = compile(snapshotFromRecords(records));
  assert.deepEqual(diagnostics, []);
  const view = new CountingView();
  view.index.replaceSlice(undefined, slice('auto', [{ ip: '10.0.0.1', port: 8080 }]));
  const expected = [
    'http://10.0.0.1:8080',
    'http://10.96.0.7:80',
    'http://backend.example:80',
    'https://10.0.0.1:8080',
    'https://10.96.0.7:80',
    'https://backend.example:80',
  ];
  assert.deepEqual(sorted(collectLiveEndpoints(table, view)).origins, expected);
  assert.deepEqual(sorted(new LiveEndpointTracker().update(table, view)).origins, expected);
});
