// Rolling update under steady load: a Service's endpoints are replaced one by one the way a
// Deployment rollout changes its EndpointSlice (KEP-1672 terminating conditions):
//
//   new pod ready → old pod ready=false, serving=true, terminating=true → old pod gone from
//   the slice → old process stopped (only after Portico has applied the removal)
//
// while keep-alive clients send GETs. Expected: 0 failed requests; a terminating endpoint gets
// no new requests (at most the ones already in flight when the change landed); every new pod
// gets traffic. One variant runs the real `serve` process fed by manifest-file edits, the other
// the in-process proxy against a TestLiveState (three rollouts back to back).

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Client } from 'undici';
import { ingressYaml, manifests, serviceYaml, sliceYaml, type TestEndpoint } from '../support/cluster-manifests.ts';
import { startProxy } from '../support/proxy-harness.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { errorLabel, type LoadRun, sleep, startLoad, Tally } from './load-loop.ts';
import { type NamedBackend, startBackendsOnOnePort } from './named-backends.ts';
import { makeManifestDir, metricValue, startServe } from './serve-process.ts';

const WORKERS = 4;
const HOST = 'rollout.test';

interface Stage {
  readonly what: string;
  readonly endpoints: readonly TestEndpoint[];
  readonly ready: number;
  readonly terminating: number;
  /** a pod that became ready in this stage: it must get traffic */
  readonly added?: NamedBackend;
  /** a pod that turned terminating in this stage: it must get no new requests */
  readonly terminated?: NamedBackend;
  /** a pod that left the slice in this stage: its process is stopped once Portico applied that */
  readonly removed?: NamedBackend;
}

const row = (backend: NamedBackend, terminating = false): TestEndpoint => ({
  ip: backend.address,
  port: backend.port,
  ready: !terminating,
  serving: true,
  terminating,
});

/** The stages of replacing `old` with `next`, one pod at a time (maxSurge 1, maxUnavailable 0). */
function rolloutStages(old: readonly NamedBackend[], next: readonly NamedBackend[]): Stage[] {
  const stages: Stage[] = [];
  let current = [...old];
  const added: NamedBackend[] = [];
  for (const [index, incoming] of next.entries()) {
    const outgoing = old[index] as NamedBackend;
    added.push(incoming);
    const keep = current.filter((backend) => backend !== outgoing);
    stages.push({
      what: `${incoming.name} ready`,
      endpoints: [...current, incoming].map((backend) => row(backend)),
      ready: current.length + 1,
      terminating: 0,
      added: incoming,
    });
    stages.push({
      what: `${outgoing.name} terminating`,
      endpoints: [...current, incoming].map((backend) => row(backend, backend === outgoing)),
      ready: current.length,
      terminating: 1,
      terminated: outgoing,
    });
    current = [...keep, incoming];
    stages.push({
      what: `${outgoing.name} removed`,
      endpoints: current.map((backend) => row(backend)),
      ready: current.length,
      terminating: 0,
      removed: outgoing,
    });
  }
  return stages;
}

interface RolloutTarget {
  readonly proxyOrigin: string;
  /** applies the stage's slice */
  apply(stage: Stage): Promise<void>;
  /** resolves once the proxy routes by the stage's slice */
  applied(stage: Stage): Promise<unknown>;
  /** after a removal: lets the proxy drop its pool to the removed endpoint */
  afterRemoval?(): void;
}

interface RolloutResult {
  readonly tally: Tally;
  readonly stagesDone: number;
  readonly lateToTerminating: Map<string, number>;
}

/** Runs the load, walks the stages, stops the load; returns what the clients saw. */
async function rollOut(
  target: RolloutTarget,
  stages: readonly Stage[],
  backends: readonly NamedBackend[],
  { stageMinMs, maxMs }: { stageMinMs: number; maxMs: number },
): Promise<RolloutResult> {
  const names = new Set(backends.map((backend) => backend.name));
  const clients = Array.from(
    { length: WORKERS },
    () => new Client(target.proxyOrigin, { headersTimeout: 10_000, bodyTimeout: 10_000 }),
  );
  const tally = new Tally();
  const lateToTerminating = new Map<string, number>();
  const servedAtTerminating = new Map<NamedBackend, number>();
  let stagesDone = 0;
  const load: LoadRun = startLoad({ workers: WORKERS, maxRequests: 200_000, maxMs }, async (worker, seq) => {
    try {
      const response = await (clients[worker] as Client).request({
        path: `/r/${seq}`,
        method: 'GET',
        headers: { host: HOST },
      });
      const body = await response.body.text();
      const name = body.split(' ')[0] ?? '';
      if (response.statusCode === 200 && names.has(name)) tally.add('ok');
      else tally.add(`status ${response.statusCode}`, body.trim());
    } catch (error) {
      tally.add(`error ${errorLabel(error)}`, String(error));
    }
  });
  try {
    await waitFor('load to start', () => load.sent() > 50);
    for (const stage of stages) {
      await target.apply(stage);
      await target.applied(stage);
      if (stage.terminated) servedAtTerminating.set(stage.terminated, stage.terminated.served());
      if (stage.removed) {
        const late = stage.removed.served() - (servedAtTerminating.get(stage.removed) ?? 0);
        lateToTerminating.set(stage.removed.name, late);
        target.afterRemoval?.();
        await stage.removed.kill();
      }
      const added = stage.added;
      if (added) await waitFor(`traffic on ${added.name}`, () => added.served() > 0);
      const sentAtStage = load.sent();
      await sleep(stageMinMs);
      await waitFor('load during the stage', () => load.sent() > sentAtStage + 20);
      stagesDone++;
    }
  } finally {
    load.stop();
    await load.done;
    await Promise.all(clients.map((client) => client.close()));
  }
  return { tally, stagesDone, lateToTerminating };
}

function report(t: TestContext, result: RolloutResult, backends: readonly NamedBackend[]): void {
  t.diagnostic(`requests: ${result.tally.toString()}`);
  t.diagnostic(`served per backend: ${backends.map((backend) => `${backend.name}=${backend.served()}`).join(' ')}`);
  t.diagnostic(
    `requests reaching a pod after its terminating state was applied (in flight then): ${[...result.lateToTerminating]
      .map(([name, count]) => `${name}=${count}`)
      .join(' ')}`,
  );
}

function assertClean(result: RolloutResult, stages: readonly Stage[], backends: readonly NamedBackend[]): void {
  assert.equal(result.stagesDone, stages.length, 'every stage ran under load');
  assert.equal(result.tally.get('ok'), result.tally.total(), `failed requests:\n${result.tally.toString()}`);
  for (const backend of backends) assert.ok(backend.served() > 0, `${backend.name} got traffic`);
  for (const [name, late] of result.lateToTerminating) {
    assert.ok(late <= WORKERS, `${name} got ${late} requests after turning terminating (at most ${WORKERS} in flight)`);
  }
}

describe('rolling update under load', () => {
  test(
    'through `serve`: EndpointSlice file edited stage by stage, 0 failed requests',
    { timeout: 60_000 },
    async (t) => {
      const backends = await startBackendsOnOnePort({
        'v1-a': '127.0.0.51',
        'v1-b': '127.0.0.52',
        'v2-a': '127.0.0.53',
        'v2-b': '127.0.0.54',
      });
      const [oldA, oldB, newA, newB] = backends as [NamedBackend, NamedBackend, NamedBackend, NamedBackend];
      const dir = await makeManifestDir('rollout');
      await dir.write(
        'objects.yaml',
        manifests(serviceYaml('web'), ingressYaml('rollout', HOST, [{ path: '/', service: 'web' }])),
      );
      await dir.write('slice.yaml', sliceYaml('web', [row(oldA), row(oldB)]));
      const serve = await startServe(dir.path);
      try {
        const stages = rolloutStages([oldA, oldB], [newA, newB]);
        const endpointCount = async (condition: string): Promise<number | undefined> =>
          metricValue(await serve.metrics(), 'portico_endpoints', { service: 'web', condition });
        await waitFor('the first slice', async () => (await endpointCount('ready')) === 2);
        const result = await rollOut(
          {
            proxyOrigin: serve.proxyOrigin,
            apply: (stage) => dir.write('slice.yaml', sliceYaml('web', stage.endpoints)),
            // portico_endpoints is set in the same tick the endpoint index changes, so once it
            // shows the stage's counts every new request is routed by that stage.
            applied: (stage) =>
              waitFor(`stage "${stage.what}" applied`, async () => {
                const [ready, terminating] = [await endpointCount('ready'), await endpointCount('terminating')];
                return ready === stage.ready && terminating === stage.terminating;
              }),
          },
          stages,
          backends,
          { stageMinMs: 400, maxMs: 20_000 },
        );
        const metrics = await serve.metrics();
        report(t, result, backends);
        t.diagnostic(
          `portico retries: ${metricValue(metrics, 'portico_upstream_retries_total', { service: 'web' }) ?? 0}; ` +
            `5xx: ${metricValue(metrics, 'portico_requests_total', { status_class: '5xx' }) ?? 0}`,
        );
        assertClean(result, stages, backends);
        assert.equal(await serve.stop(), 0);
      } finally {
        serve.run.child.kill('SIGKILL');
        await Promise.all(backends.map((backend) => backend.kill()));
        await dir.remove();
      }
    },
  );

  test('in process: three rollouts back to back, 0 failed requests', { timeout: 60_000 }, async (t) => {
    const generations = ['g0', 'g1', 'g2', 'g3'];
    const addresses: Record<string, string> = {};
    for (const [index, generation] of generations.entries()) {
      addresses[`${generation}-a`] = `127.0.0.${60 + index * 2}`;
      addresses[`${generation}-b`] = `127.0.0.${61 + index * 2}`;
    }
    const backends = await startBackendsOnOnePort(addresses);
    const pairs = generations.map((_, index) => backends.slice(index * 2, index * 2 + 2));
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml(
          'web',
          (pairs[0] ?? []).map((backend) => row(backend)),
        ),
        ingressYaml('rollout', HOST, [{ path: '/', service: 'web' }]),
      ),
    );
    const running = await startProxy(state);
    try {
      const stages = pairs.slice(1).flatMap((pair, index) => rolloutStages(pairs[index] ?? [], pair));
      const result = await rollOut(
        {
          proxyOrigin: `http://127.0.0.1:${running.port}`,
          apply: async (stage) => state.updateSlices(sliceYaml('web', stage.endpoints)),
          // The endpoint view is swapped synchronously: the next request sees it.
          applied: async () => {},
          afterRemoval: () => running.proxy.reconcilePools(),
        },
        stages,
        backends,
        { stageMinMs: 150, maxMs: 20_000 },
      );
      report(t, result, backends);
      t.diagnostic(`upstream pools left: ${running.proxy.upstreamOrigins().join(', ')}`);
      assertClean(result, stages, backends);
      const last = pairs.at(-1) ?? [];
      assert.deepEqual(
        running.proxy.upstreamOrigins().sort(),
        last.map((backend) => `http://${backend.address}:${backend.port}`).sort(),
        'pools remain only for the endpoints still listed',
      );
    } finally {
      await running.close();
      await Promise.all(backends.map((backend) => backend.kill()));
    }
  });
});
