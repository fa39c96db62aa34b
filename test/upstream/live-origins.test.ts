// Every backend a request can reach keeps its pools: route backends, host and cluster default
// backends, canary backends and `default-backend` annotations (error pages, no-endpoint
// fallback). A backend left out would have its pools closed by every reconcile.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { snapshotFromRecords } from '../../src/store/cluster-snapshot.ts';
import { collectBackends } from '../../src/upstream/live-origins.ts';
import { ingressYaml, manifests, serviceYaml } from '../support/cluster-manifests.ts';
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
