// LeaderLease against a scripted KubeClient: what it says when RBAC refuses it the Lease.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HttpVerb, KubeApiError, type KubeClient } from '../../src/kube/kube-client.ts';
import { LeaderLease } from '../../src/kube/leader-lease.ts';

function leaseWithDenied(denied: HttpVerb) {
  const warnings: string[] = [];
  const client: KubeClient = {
    server: 'https://kube.test',
    async request(method, path) {
      if (method === denied) throw new KubeApiError(403, `${method} ${path}: 403 forbidden`, 'Forbidden', method);
      if (method === 'GET') throw new KubeApiError(404, `GET ${path}: 404 not found`, 'NotFound', method);
      return {};
    },
    watch: () => Promise.reject(new Error('not used')),
  };
  const lease = new LeaderLease({
    client,
    namespace: 'portico-system',
    name: 'portico-leader',
    identity: 'portico-0',
    logger: { info: () => {}, debug: () => {}, warn: (_object, message) => warnings.push(message) },
  });
  return { lease, warnings };
}

describe('LeaderLease', () => {
  for (const [method, verb] of [
    ['GET', 'get'],
    ['POST', 'create'],
  ] as const) {
    it(`names the RBAC verb it was denied (${verb})`, async () => {
      const { lease, warnings } = leaseWithDenied(method);
      lease.start();
      try {
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(warnings, [
          `lease update failed: RBAC denies ${verb} on coordination.k8s.io leases in namespace portico-system`,
        ]);
        assert.equal(lease.isLeader(), false);
      } finally {
        await lease.stop();
      }
    });
  }
});
