// compile reads an Ingress's annotations once per record (records are deep-frozen and replaced
// on change): a rebuild with the same record reuses what the last build read, a replaced record
// is read afresh, and the diagnostics are the same in every build.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { ClusterRecord } from '../../src/model/records.ts';
import type { RouteTable } from '../../src/routing/route-table.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';
import { recordsFromYaml } from '../support/test-live-state.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

function attributesOf(table: RouteTable) {
  return table.exactHosts.get('a.test')?.routes[0]?.attributes;
}

function withIngress(records: readonly ClusterRecord[], readTimeout: string): ClusterRecord[] {
  const ingress = recordsFromYaml(
    ingressYaml('main', 'a.test', [{ path: '/', service: 'app' }], {
      [`${NGINX}proxy-read-timeout`]: readTimeout,
      [`${NGINX}no-such-annotation`]: 'x',
    }),
  );
  return [...records, ...ingress];
}

test('a rebuild reuses the annotations read from an unchanged record, and reads a replaced one', () => {
  const base = recordsFromYaml(manifests(serviceYaml('app')));
  const first = withIngress(base, '7');
  const one = compile(snapshotFromRecords(first));
  const two = compile(snapshotFromRecords(first));
  assert.ok(attributesOf(one.table) !== undefined);
  assert.equal(attributesOf(two.table), attributesOf(one.table), 'the same record: the same parsed attributes');
  assert.deepEqual(two.diagnostics, one.diagnostics);
  assert.equal(
    one.diagnostics.filter((diagnostic) => diagnostic.code === 'UnsupportedAnnotation').length,
    1,
    'the memoized diagnostics are reported by every build, once',
  );

  const replaced = compile(snapshotFromRecords(withIngress(base, '9')));
  assert.notEqual(attributesOf(replaced.table), attributesOf(one.table));
  assert.equal(attributesOf(replaced.table)?.proxyReadTimeoutMs, 9_000);
  assert.equal(attributesOf(one.table)?.proxyReadTimeoutMs, 7_000);
});
