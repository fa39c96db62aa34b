// Which collections cluster mode lists and watches: every namespace, or the --watch-namespace
// ones, plus the --publish-service Service on its own when its namespace is not among them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchedResources } from '../../src/kube/cluster-source.ts';

const serviceWatches = (namespaces: readonly string[], publishService?: string) =>
  watchedResources(namespaces, publishService)
    .filter((resource) => resource.kind === 'Service')
    .map((resource) => `${resource.path}${resource.fieldSelector ? `?${resource.fieldSelector}` : ''}`);

describe('watchedResources', () => {
  const cases: { name: string; namespaces: string[]; publishService?: string; services: string[] }[] = [
    { name: 'every namespace', namespaces: [], services: ['/api/v1/services'] },
    {
      name: 'every namespace: the publish Service is among them',
      namespaces: [],
      publishService: 'portico-system/portico',
      services: ['/api/v1/services'],
    },
    {
      name: 'watched namespaces include the publish Service',
      namespaces: ['team-a', 'portico-system'],
      publishService: 'portico-system/portico',
      services: ['/api/v1/namespaces/team-a/services', '/api/v1/namespaces/portico-system/services'],
    },
    {
      name: 'the publish Service outside the watched namespaces is watched alone, by name',
      namespaces: ['team-a'],
      publishService: 'portico-system/portico',
      services: [
        '/api/v1/namespaces/portico-system/services?metadata.name=portico',
        '/api/v1/namespaces/team-a/services',
      ],
    },
  ];
  for (const { name, namespaces, publishService, services } of cases) {
    it(name, () => assert.deepEqual(serviceWatches(namespaces, publishService), services));
  }
});
