// Cluster mode against a real kube-apiserver: what users change with kubectl shows up in
// routing, through Portico's own watchers, without restarts.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../harness/control-plane.ts';
import { eventually } from '../harness/eventually.ts';
import type { Netns } from '../harness/netns.ts';
import {
  documents,
  endpointSliceYaml,
  ingressClassYaml,
  ingressYaml,
  namespaceYaml,
  serviceYaml,
} from '../support/kube-objects.ts';
import { PorticoProcess } from '../support/portico-process.ts';
import { startTutorialCluster, type TutorialCluster } from '../support/tutorial-cluster.ts';

describe('cluster mode: routing follows the API server', () => {
  let cluster: TutorialCluster;
  let controlPlane: ControlPlane;
  let netns: Netns;
  let portico: PorticoProcess;
  const apply = (yaml: string) => cluster.apply(yaml);

  const answers = (host: string, path: string, count = 6) => portico.answeredBy(host, path, count);

  before(async () => {
    cluster = await startTutorialCluster();
    ({ controlPlane, netns } = cluster);
    portico = await PorticoProcess.start(controlPlane);
  });

  after(async () => {
    await portico?.stop();
    await cluster?.stop();
  });

  it('serves the tutorial Ingress as soon as it is created, follows edits, forgets it on delete', async () => {
    assert.equal(
      (await portico.get('hello-world.info', '/v2')).status,
      404,
      'nothing routes before the Ingress exists',
    );
    await apply(
      ingressYaml('default', 'example-ingress', 'hello-world.info', [
        { path: '/', service: 'web' },
        { path: '/v2', service: 'web2' },
      ]),
    );
    await eventually(async () => assert.deepEqual(await answers('hello-world.info', '/v2'), ['web2-1']));
    assert.deepEqual(await answers('hello-world.info', '/'), ['web-1']);
    assert.match((await portico.get('hello-world.info', '/v2')).body, /Version: 2\.0\.0/);

    await apply(ingressYaml('default', 'example-ingress', 'hello-world.info', [{ path: '/', service: 'web2' }]));
    await eventually(async () => assert.deepEqual(await answers('hello-world.info', '/'), ['web2-1']));

    await controlPlane.kubectl(['delete', 'ingress', 'example-ingress', '-n', 'default']);
    await eventually(async () => assert.deepEqual(await answers('hello-world.info', '/'), ['404']));
  });

  it('re-evaluates Ingresses when their IngressClass appears, changes controller, or becomes the default', async () => {
    await apply(ingressYaml('default', 'late-class', 'late.example', [{ path: '/', service: 'web' }], 'late'));
    await apply(ingressYaml('default', 'classless', 'classless.example', [{ path: '/', service: 'web' }], null));
    assert.deepEqual(await answers('late.example', '/', 2), ['404'], 'class "late" does not exist yet');

    await apply(ingressClassYaml('late'));
    await eventually(async () => assert.deepEqual(await answers('late.example', '/', 2), ['web-1']));

    // spec.controller is immutable: another controller's class is a delete and a create.
    await controlPlane.kubectl(['delete', 'ingressclass', 'late']);
    await apply(ingressClassYaml('late', 'example.com/other-controller'));
    await eventually(async () => assert.deepEqual(await answers('late.example', '/', 2), ['404']));

    assert.deepEqual(await answers('classless.example', '/', 2), ['404'], 'no default class yet');
    await apply(ingressClassYaml('portico', 'portico.dev/ingress-controller', true));
    await eventually(async () => assert.deepEqual(await answers('classless.example', '/', 2), ['web-1']));
    await apply(ingressClassYaml('portico'));
    await eventually(async () => assert.deepEqual(await answers('classless.example', '/', 2), ['404']));
  });

  it('follows EndpointSlice scale up, terminating endpoints and scale down', async () => {
    const [a, b] = netns.podAddresses as [string, string];
    await apply(ingressYaml('default', 'scale', 'scale.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await answers('scale.example', '/'), ['web-1']));

    await apply(endpointSliceYaml('default', 'web-1', 'web', [{ address: a }, { address: b }]));
    await eventually(async () => assert.deepEqual(await answers('scale.example', '/'), ['web-1', 'web-2']));

    // Pod web-1 terminating: still serving in-flight work, but takes no new requests.
    await apply(
      endpointSliceYaml('default', 'web-1', 'web', [
        { address: a, ready: false, serving: true, terminating: true },
        { address: b },
      ]),
    );
    await eventually(async () => assert.deepEqual(await answers('scale.example', '/', 8), ['web-2']));

    await apply(endpointSliceYaml('default', 'web-1', 'web', []));
    await eventually(async () => assert.deepEqual(await answers('scale.example', '/', 2), ['503']));

    // A second slice of the same Service adds to the first.
    await apply(endpointSliceYaml('default', 'web-extra', 'web', [{ address: a }]));
    await eventually(async () => assert.deepEqual(await answers('scale.example', '/'), ['web-1']));
  });

  it('follows a Service port rename: the old port name stops resolving, the new one works', async () => {
    const [a] = netns.podAddresses as [string];
    await apply(
      documents(
        serviceYaml('default', 'named', 'http'),
        endpointSliceYaml('default', 'named-1', 'named', [{ address: a }], 'http'),
        ingressYaml('default', 'named', 'named.example', [{ path: '/', service: 'named', port: 'http' }]),
      ),
    );
    await eventually(async () => assert.deepEqual(await answers('named.example', '/', 2), ['web-1']));

    await apply(
      documents(
        serviceYaml('default', 'named', 'web'),
        endpointSliceYaml('default', 'named-1', 'named', [{ address: a }], 'web'),
      ),
    );
    await eventually(async () => assert.deepEqual(await answers('named.example', '/', 2), ['503']));

    await apply(ingressYaml('default', 'named', 'named.example', [{ path: '/', service: 'named', port: 'web' }]));
    await eventually(async () => assert.deepEqual(await answers('named.example', '/', 2), ['web-1']));
  });

  it('watches only the namespaces it is told to', async () => {
    const [a] = netns.podAddresses as [string];
    for (const namespace of ['team-a', 'team-b']) {
      await apply(
        documents(
          namespaceYaml(namespace),
          serviceYaml(namespace, 'app'),
          endpointSliceYaml(namespace, 'app-1', 'app', [{ address: a }]),
          ingressYaml(namespace, 'app', `${namespace}.example`, [{ path: '/', service: 'app' }]),
        ),
      );
    }
    const scoped = await PorticoProcess.start(controlPlane, {
      args: ['--watch-namespace', 'team-a'],
      name: 'portico-scoped',
    });
    try {
      await eventually(async () => assert.equal((await scoped.get('team-a.example', '/')).status, 200));
      assert.equal((await scoped.get('team-b.example', '/')).status, 404);
      assert.equal((await scoped.get('hello-world.info', '/')).status, 404);
      // The cluster-wide instance serves both.
      await eventually(async () => assert.equal((await portico.get('team-b.example', '/')).status, 200));
    } finally {
      await scoped.stop();
    }
  });
});
