// Cluster mode's write side against a real kube-apiserver: Ingress status written by the
// Lease holder only and cleared when we stop serving, failover when the leader dies, and
// compile diagnostics as Warning Events readable with kubectl.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ControlPlane, startControlPlane } from '../harness/control-plane.ts';
import { eventually } from '../harness/eventually.ts';
import { documents, ingressClassYaml, ingressYaml, namespaceYaml, serviceYaml } from '../support/kube-objects.ts';
import { PorticoProcess } from '../support/portico-process.ts';
import { ingressEvents } from '../support/ingress-events.ts';

const ADDRESS = '203.0.113.20';
const PUBLISH = ['--publish-status-address', ADDRESS];

describe('cluster mode: status, leader election and Events', () => {
  let controlPlane: ControlPlane;
  const running: PorticoProcess[] = [];
  const apply = (yaml: string) => controlPlane.kubectl(['apply', '-f', '-'], { input: yaml });

  async function statusIps(name: string, namespace = 'default'): Promise<string[]> {
    const result = await controlPlane.kubectl(['get', 'ingress', name, '-n', namespace, '-o', 'json']);
    const ingress = JSON.parse(result.stdout) as { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } };
    return (ingress.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? '');
  }

  async function leaseHolder(): Promise<string | undefined> {
    const result = await controlPlane.kubectl(['get', 'lease', 'portico-leader', '-n', 'default', '-o', 'json'], {
      allowFailure: true,
    });
    if (result.code !== 0) return undefined;
    return (JSON.parse(result.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
  }

  function statusWrites(portico: PorticoProcess): number {
    return portico
      .log()
      .split('\n')
      .filter((line) => line.includes('"msg":"ingress status updated"')).length;
  }

  async function start(name: string): Promise<PorticoProcess> {
    const portico = await PorticoProcess.start(controlPlane, { name, args: PUBLISH });
    running.push(portico);
    return portico;
  }

  before(async () => {
    controlPlane = await startControlPlane();
    await apply(
      documents(
        ingressClassYaml('portico'),
        ingressClassYaml('other', 'example.com/other'),
        serviceYaml('default', 'web'),
      ),
    );
  });

  after(async () => {
    for (const portico of running) await portico.stop();
    await controlPlane?.stop();
  });

  it('the leader writes our address into served Ingresses and clears it when they leave our class', async () => {
    const leader = await start('portico-a');
    await eventually(async () => assert.equal(await leaseHolder(), 'portico-a'));
    await apply(ingressYaml('default', 'site', 'site.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await statusIps('site'), [ADDRESS]));

    await apply(ingressYaml('default', 'site', 'site.example', [{ path: '/', service: 'web' }], 'other'));
    await eventually(async () => assert.deepEqual(await statusIps('site'), []));
    // Log lines are written in batches (flushed within 100 ms), so the count may trail the API.
    await eventually(async () => assert.ok(statusWrites(leader) >= 2, 'one write to set, one to clear'));
  });

  it('only the leader writes status; another replica takes over when the leader is killed', async () => {
    const [leader] = running as [PorticoProcess];
    const follower = await start('portico-b');
    await apply(ingressYaml('default', 'second', 'second.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await statusIps('second'), [ADDRESS]));
    assert.equal(await leaseHolder(), 'portico-a');
    // Both replicas serve traffic whoever leads.
    await eventually(async () => assert.notEqual((await follower.get('second.example', '/')).status, 404));
    // Checked after the follower has built and served the table, so a write it made would be logged by now.
    assert.equal(statusWrites(follower), 0, 'the follower wrote status while not leading');

    leader.kill();
    // Lease of 15 s: the follower may take over once it has expired.
    await eventually(async () => assert.equal(await leaseHolder(), 'portico-b'), { timeoutMs: 45_000 });
    await apply(ingressYaml('default', 'third', 'third.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await statusIps('third'), [ADDRESS]));
    await eventually(async () => assert.ok(statusWrites(follower) >= 1, 'the new leader wrote the status'));
  });

  it('--publish-service in a namespace not watched: its address still reaches Ingress status', async () => {
    // A class of its own and its own Lease, so the replicas above neither serve nor fight it.
    await apply(
      documents(
        ingressClassYaml('scoped', 'portico.dev/scoped'),
        namespaceYaml('team-s'),
        namespaceYaml('edge'),
        serviceYaml('team-s', 'app'),
        serviceYaml('edge', 'portico').replace('spec: {', 'spec: { type: LoadBalancer,'),
        ingressYaml('team-s', 'site', 'scoped.example', [{ path: '/', service: 'app' }], 'scoped'),
      ),
    );
    await controlPlane.kubectl([
      ...['patch', 'service', 'portico', '-n', 'edge', '--subresource=status', '--type=merge'],
      ...['-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: '203.0.113.30' }] } } })],
    ]);
    const scoped = await PorticoProcess.start(controlPlane, {
      name: 'portico-scoped',
      args: [
        ...['--watch-namespace', 'team-s', '--publish-service', 'edge/portico'],
        ...['--controller-class', 'portico.dev/scoped', '--ingress-class', 'scoped', '--election-id', 'portico-scoped'],
      ],
    });
    running.push(scoped);
    await eventually(async () => assert.deepEqual(await statusIps('site', 'team-s'), ['203.0.113.30']), {
      description: "the published Service's load-balancer address in the Ingress status",
    });
    // The address follows the Service.
    await controlPlane.kubectl([
      ...['patch', 'service', 'portico', '-n', 'edge', '--subresource=status', '--type=merge'],
      ...['-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: '203.0.113.31' }] } } })],
    ]);
    await eventually(async () => assert.deepEqual(await statusIps('site', 'team-s'), ['203.0.113.31']));
  });

  it('records each compile diagnostic once as a Warning Event on the offending Ingress', async () => {
    await apply(
      documents(
        ingressYaml('default', 'broken', 'broken.example', [{ path: '/', service: 'missing' }]),
        // An invalid annotation value: a second, different diagnostic on the same Ingress.
        ingressYaml('default', 'annotated', 'annotated.example', [{ path: '/', service: 'web' }]).replace(
          'metadata: { name: annotated, namespace: default }',
          'metadata: { name: annotated, namespace: default, annotations: { nginx.ingress.kubernetes.io/ssl-redirect: maybe } }',
        ),
      ),
    );
    const eventsFor = (name: string) => ingressEvents(controlPlane, 'default', name);
    await eventually(async () => {
      const events = await eventsFor('broken');
      assert.deepEqual(
        events.map((event) => [event.type, event.reason]),
        [['Warning', 'ServiceNotFound']],
      );
      assert.match(events[0]?.message ?? '', /service default\/missing does not exist/);
    });
    await eventually(async () =>
      assert.deepEqual(
        (await eventsFor('annotated')).map((event) => event.reason),
        ['InvalidAnnotation'],
      ),
    );
    const described = await controlPlane.kubectl(['describe', 'ingress', 'broken', '-n', 'default']);
    assert.match(described.stdout, /Warning\s+ServiceNotFound/);

    // Later rebuilds (another Ingress changes) do not repeat a diagnostic that persists.
    await apply(ingressYaml('default', 'unrelated', 'unrelated.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await statusIps('unrelated'), [ADDRESS]));
    assert.equal((await eventsFor('broken')).length, 1);
  });
});
