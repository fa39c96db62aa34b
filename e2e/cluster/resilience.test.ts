// Cluster mode survives the two failures every Ingress controller meets sooner or later, against
// a real kube-apiserver and etcd:
//   - the API server goes away for 30 s: traffic keeps flowing on the last table (not one request
//     fails), and once the API server is back Portico's watchers reconnect and catch up;
//   - a watch falls behind etcd compaction: resuming it answers 410 Gone, Portico relists, and
//     every change made meanwhile (a deletion included) shows up in routing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ControlPlane } from '../harness/control-plane.ts';
import { eventually } from '../harness/eventually.ts';
import type { Netns } from '../harness/netns.ts';
import { documents, endpointSliceYaml, ingressYaml } from '../support/kube-objects.ts';
import { hostnameOf, PorticoProcess } from '../support/portico-process.ts';
import { startTutorialCluster, type TutorialCluster } from '../support/tutorial-cluster.ts';

const HOST = 'hello-world.info';
const OUTAGE_MS = 30_000;
/** pace of the request loop: ~20 requests a second, a steady trickle rather than a flood */
const REQUEST_INTERVAL_MS = 50;
/**
 * Watchers back off exponentially up to 30 s while the API server is down (as client-go's
 * reflector does), so the first reconnection can come up to ~30 s after the restart.
 */
const CATCH_UP_TIMEOUT_MS = 60_000;

function countLines(log: string, message: string): number {
  return log.split('\n').filter((line) => line.includes(message)).length;
}

interface LoopResult {
  readonly total: number;
  readonly failures: readonly string[];
  /** the slowest request, ms */
  readonly slowestMs: number;
}

/** Requests alternate between `/` (web-1) and `/v2` (web2-1) until stopped; every other answer is a failure. */
function startRequestLoop(portico: PorticoProcess, limitMs: number): { stop(): Promise<LoopResult>; count(): number } {
  let stopped = false;
  let total = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  const deadline = Date.now() + limitMs;
  const run = (async () => {
    while (!stopped && Date.now() < deadline) {
      const path = total % 2 === 0 ? '/' : '/v2';
      const expected = path === '/' ? 'web-1' : 'web2-1';
      const at = new Date().toISOString();
      const started = performance.now();
      try {
        const answer = await portico.get(HOST, path);
        slowestMs = Math.max(slowestMs, performance.now() - started);
        const served = hostnameOf(answer.body);
        if (answer.status !== 200 || served !== expected) {
          failures.push(
            `${at} GET ${HOST}${path}: ${answer.status} from ${served ?? '?'} (expected 200 from ${expected})`,
          );
        }
      } catch (error) {
        failures.push(`${at} GET ${HOST}${path}: ${error instanceof Error ? error.message : String(error)}`);
      }
      total++;
      await delay(REQUEST_INTERVAL_MS);
    }
  })();
  return {
    count: () => total,
    async stop() {
      stopped = true;
      await run;
      return { total, failures, slowestMs };
    },
  };
}

describe('cluster mode: API server outage and 410 Gone', () => {
  let cluster: TutorialCluster;
  let controlPlane: ControlPlane;
  let netns: Netns;
  let portico: PorticoProcess;
  const apply = (yaml: string) => cluster.apply(yaml);

  /** the distinct backends (or statuses) answering `count` requests */
  const answers = (host: string, path: string, count = 4) => portico.answeredBy(host, path, count);

  before(async () => {
    // The Kubernetes "Set up Ingress on Minikube" tutorial, with the endpoints written by hand.
    cluster = await startTutorialCluster({ withIngress: true });
    ({ controlPlane, netns } = cluster);
    portico = await PorticoProcess.start(controlPlane);
    await eventually(async () => {
      assert.deepEqual(await answers(HOST, '/'), ['web-1']);
      assert.deepEqual(await answers(HOST, '/v2'), ['web2-1']);
    });
  });

  after(async () => {
    await portico?.stop();
    await cluster?.stop();
  });

  it('serves every request through a 30 s API server outage, then catches up with changes', async (t) => {
    const loop = startRequestLoop(portico, OUTAGE_MS + 2 * CATCH_UP_TIMEOUT_MS);
    let result: LoopResult | undefined;
    try {
      await eventually(() => assert.ok(loop.count() >= 20, 'the request loop is running'));
      const logBefore = portico.log().length;

      // kube-apiserver stops accepting connections at once, but drains open watches for a few
      // seconds before it exits; the 30 s are counted from its exit, when nothing is left open.
      const stopRequested = Date.now();
      await controlPlane.stopApiServer();
      const outageStarted = Date.now();
      await assert.rejects(controlPlane.request('/readyz', { timeoutMs: 2_000 }), /ECONNREFUSED/);
      // Hold the outage; meanwhile Portico must stay ready (it serves its last table).
      let readyChecks = 0;
      while (Date.now() - outageStarted < OUTAGE_MS) {
        assert.equal(await portico.readyz(), 200, '/readyz during the outage');
        readyChecks++;
        await delay(Math.min(1_000, OUTAGE_MS - (Date.now() - outageStarted)));
      }
      const outageRequests = loop.count();
      const restartStarted = Date.now();
      await controlPlane.startApiServer();
      const outageMs = Date.now() - outageStarted;
      t.diagnostic(
        `kube-apiserver took ${outageStarted - stopRequested} ms to exit, then stayed down ${outageMs} ms (restart took ${Date.now() - restartStarted} ms); /readyz 200 on all ${readyChecks} checks`,
      );
      const duringOutage = portico.log().slice(logBefore);
      t.diagnostic(
        `while it was down Portico logged ${countLines(duringOutage, 'watch failed')} "watch failed" and ${countLines(duringOutage, 'list failed')} "list failed" lines`,
      );

      // A change made after the restart reaches routing once the watchers reconnect.
      const changed = Date.now();
      await apply(ingressYaml('default', 'after-outage', 'after-outage.example', [{ path: '/', service: 'web2' }]));
      await eventually(async () => assert.deepEqual(await answers('after-outage.example', '/', 2), ['web2-1']), {
        timeoutMs: CATCH_UP_TIMEOUT_MS,
        intervalMs: 250,
        description: 'the Ingress created after the outage to route',
      });
      t.diagnostic(`the Ingress created after the restart routed ${Date.now() - changed} ms after kubectl apply`);
      result = await loop.stop();
      t.diagnostic(
        `request loop: ${result.total} requests (${outageRequests} by the end of the outage), ${result.failures.length} failed, slowest ${result.slowestMs.toFixed(1)} ms`,
      );
    } finally {
      result ??= await loop.stop();
      if (!controlPlane.apiServerRunning) await controlPlane.startApiServer();
    }
    assert.deepEqual(result.failures, [], 'no request may fail while the API server is down or coming back');
    assert.ok(result.total >= OUTAGE_MS / REQUEST_INTERVAL_MS / 2, `only ${result.total} requests were sent`);
  });

  it('relists after 410 Gone and misses no change made while its watches were behind', async (t) => {
    const [a, b] = netns.podAddresses as [string, string];
    await apply(ingressYaml('default', 'doomed', 'doomed.example', [{ path: '/', service: 'web' }]));
    await eventually(async () => assert.deepEqual(await answers('doomed.example', '/', 2), ['web-1']));
    const pid = portico.process.child.pid;
    assert.ok(pid, 'Portico has a pid');
    const logBefore = portico.log().length;

    // Freeze Portico with its watches open. Restarting the API server closes them, and every
    // change below lands in etcd while Portico still holds its old resourceVersions; then the
    // compaction removes those versions. A watch left open would have been fed the changes by
    // etcd as they happened, which is why the restart is needed: on SIGCONT, Portico finds its
    // streams closed, resumes each watch from a compacted resourceVersion and gets 410 Gone.
    process.kill(pid, 'SIGSTOP');
    let compactedAt: number;
    try {
      await controlPlane.stopApiServer();
      await controlPlane.startApiServer();
      await apply(
        documents(
          ingressYaml('default', 'while-frozen', 'while-frozen.example', [{ path: '/', service: 'web2' }]),
          ingressYaml('default', 'example-ingress', HOST, [
            { path: '/', service: 'web' },
            { path: '/v2', service: 'web2' },
            { path: '/v3', service: 'web2' },
          ]),
          endpointSliceYaml('default', 'web-1', 'web', [{ address: a }, { address: b }]),
        ),
      );
      await controlPlane.kubectl(['delete', 'ingress', 'doomed', '--namespace', 'default']);
      ({ revision: compactedAt } = await controlPlane.compactEtcd());
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const resumed = Date.now();

    await eventually(
      async () => {
        assert.deepEqual(await answers('doomed.example', '/', 2), ['404'], 'the Ingress deleted while frozen');
        assert.deepEqual(await answers('while-frozen.example', '/', 2), ['web2-1'], 'the Ingress created while frozen');
        assert.deepEqual(await answers(HOST, '/v3', 2), ['web2-1'], 'the path added while frozen');
        assert.deepEqual(await answers(HOST, '/', 8), ['web-1', 'web-2'], 'the endpoint added while frozen');
      },
      { timeoutMs: CATCH_UP_TIMEOUT_MS, intervalMs: 250, description: 'every change made while frozen to route' },
    );
    const caughtUpMs = Date.now() - resumed;
    const log = portico.log().slice(logBefore);
    const gone = countLines(log, 'watch expired (410 Gone); relisting');
    t.diagnostic(`etcd compacted at revision ${compactedAt}; Portico caught up ${caughtUpMs} ms after SIGCONT`);
    t.diagnostic(`Portico logged "watch expired (410 Gone); relisting" ${gone} times`);
    assert.ok(gone >= 1, `Portico never reported 410 Gone:\n${log}`);
    assert.match(
      log,
      /"resource":"\/apis\/networking\.k8s\.io\/v1\/ingresses"[^\n]*watch expired \(410 Gone\); relisting/,
    );
  });
});
