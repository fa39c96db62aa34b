// `serve --workers 2` as a real process tree (README "Workers"):
// - new connections are spread over both workers, and /metrics on the primary sums the
//   workers' request counters;
// - a manifest edit reaches every worker: each one logs the new generation and serves the
//   new host;
// - a worker killed with SIGKILL under load: requests on connections the other worker holds
//   all succeed (0 failed), the primary forks a replacement, and the replacement serves.
// Which worker answered comes from the `x-portico-worker` header, which only exists when
// PORTICO_DEBUG_WORKER_HEADER=1 (set here for the children), and from the workers' log lines.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, request } from 'undici';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startBackend } from '../support/test-backends.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { errorLabel, startLoad, Tally } from './load-loop.ts';
import { makeAppManifestDir, type ServeProcess, startServe } from './serve-process.ts';

process.env.PORTICO_DEBUG_WORKER_HEADER = '1';

const LOAD_CLIENTS = 6;
const START_TIMEOUT_MS = 60_000;

/** The sum of every sample of `name` (all label sets). */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) sum += Number(match[2]);
  }
  return sum;
}

/** Worker id → pid, from the primary's "worker started" lines. */
function workerPids(serve: ServeProcess): Map<string, number> {
  const pids = new Map<string, number>();
  for (const line of serve.run.logs()) {
    if (line.msg === 'worker started') pids.set(String(line.worker), Number(line.workerPid));
  }
  return pids;
}

async function getOnNewConnection(serve: ServeProcess, host: string): Promise<{ status: number; worker: string }> {
  const response = await request(`${serve.proxyOrigin}/`, { headers: { host, connection: 'close' } });
  await response.body.dump();
  return { status: response.statusCode, worker: String(response.headers['x-portico-worker']) };
}

async function startWithWorkers(prefix: string, address: string) {
  const backend = await startBackend('web', address);
  const dir = await makeAppManifestDir(prefix, backend);
  // Two workers start the whole program each: on a busy machine that takes a while.
  const serve = await startServe(dir.path, ['--workers', '2'], START_TIMEOUT_MS);
  return { backend, dir, serve };
}

test('--workers 2: both workers serve, /metrics sums them, a manifest edit reaches both', async (t) => {
  const { backend, dir, serve } = await startWithWorkers('workers', '127.0.0.101');
  try {
    assert.equal((await fetch(`${serve.adminOrigin}/readyz`)).status, 200);
    const servedBy = new Tally();
    const REQUESTS = 60;
    for (let index = 0; index < REQUESTS; index++) {
      const answer = await getOnNewConnection(serve, 'app.test');
      assert.equal(answer.status, 200);
      servedBy.add(`worker ${answer.worker}`);
    }
    t.diagnostic(`${REQUESTS} requests on new connections: ${servedBy}`);
    assert.ok(servedBy.get('worker 1') > 0 && servedBy.get('worker 2') > 0, `both workers served: ${servedBy}`);

    const metrics = await serve.metrics();
    assert.equal(metricSum(metrics, 'portico_requests_total'), REQUESTS, 'portico_requests_total sums the workers');
    // Printed once, from the primary's control loop: the workers hold the same sets.
    assert.deepEqual(
      metrics
        .split('\n')
        .filter((line) => line.startsWith('portico_endpoints') || line.endsWith(' portico_endpoints gauge')),
      [
        '# TYPE portico_endpoints gauge',
        'portico_endpoints{namespace="default",service="web",condition="ready"} 1',
        'portico_endpoints{namespace="default",service="web",condition="terminating"} 0',
      ],
    );
    for (const worker of ['1', '2']) {
      assert.equal(
        metricSum(
          metrics
            .split('\n')
            .filter((line) => line.includes(`worker="${worker}"`))
            .join('\n'),
          'portico_worker_requests_total',
        ),
        servedBy.get(`worker ${worker}`),
        `portico_worker_requests_total{worker="${worker}"}`,
      );
    }

    await dir.replace(
      'all.yaml',
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: backend.address, port: backend.port }]),
        ingressYaml('app', 'app.test', [{ path: '/', service: 'web' }]),
        ingressYaml('added', 'added.test', [{ path: '/', service: 'web' }]),
      ),
    );
    const servedNew = new Set<string>();
    await waitFor(
      'every worker to serve the added host',
      async () => {
        const answer = await getOnNewConnection(serve, 'added.test');
        if (answer.status === 200) servedNew.add(answer.worker);
        return servedNew.size === 2;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    // Log lines are written in batches (up to 100 ms late): wait for them rather than read once.
    const generations = (): string[] =>
      serve.run
        .logs()
        .filter((line) => line.msg === 'routing table swapped' && line.worker !== undefined)
        .map((line) => `${String(line.worker)}:${String(line.generation)}`);
    await waitFor(
      'both workers to log generation 2',
      () => generations().includes('1:2') && generations().includes('2:2'),
      {
        timeoutMs: 10_000,
      },
    ).catch(() => undefined);
    t.diagnostic(`worker table generations: ${generations().join(' ')}`);
    assert.ok(generations().includes('1:2') && generations().includes('2:2'), 'both workers built generation 2');
    assert.equal(await serve.stop(), 0);
  } finally {
    serve.run.child.kill('SIGKILL');
    await backend.close();
    await dir.remove();
  }
});

test('--workers 2: SIGKILL one worker under load, 0 failed on the other, a replacement serves', async (t) => {
  const { backend, dir, serve } = await startWithWorkers('workers-kill', '127.0.0.102');
  const clients = Array.from({ length: LOAD_CLIENTS }, () => new Client(serve.proxyOrigin, { pipelining: 1 }));
  const lastWorker: (string | undefined)[] = [];
  const outcomes = new Tally();
  let killed: string | undefined;
  try {
    const load = startLoad({ workers: LOAD_CLIENTS, maxRequests: 40_000, maxMs: 60_000 }, async (client) => {
      const before = lastWorker[client];
      try {
        const response = await (clients[client] as Client).request({
          path: '/',
          method: 'GET',
          headers: { host: 'app.test' },
        });
        await response.body.dump();
        lastWorker[client] = String(response.headers['x-portico-worker']);
        outcomes.add(response.statusCode === 200 ? 'ok' : `status ${response.statusCode}`);
      } catch (error) {
        // A connection the killed worker held fails; the client reconnects (to a live worker).
        lastWorker[client] = undefined;
        const on = before === undefined ? 'unknown worker' : before === killed ? 'killed worker' : 'other worker';
        outcomes.add(`failed on ${on}`, errorLabel(error));
      }
    });
    try {
      await waitFor('both workers to carry load', () => new Set(lastWorker).size >= 2 && outcomes.get('ok') > 200, {
        timeoutMs: 30_000,
      });
      const [victim, pid] = [...workerPids(serve)][0] ?? [];
      assert.ok(victim !== undefined && pid !== undefined);
      killed = victim;
      process.kill(pid, 'SIGKILL');
      await waitFor(
        'a replacement worker to listen',
        () => serve.run.logs().some((line) => line.msg === 'worker listening' && line.worker === '3'),
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
      );
      // The load's keep-alive connections stay where they are: the replacement gets new ones.
      await waitFor(
        'the replacement to answer a new connection',
        async () => (await getOnNewConnection(serve, 'app.test')).worker === '3',
        { timeoutMs: 30_000 },
      );
    } finally {
      load.stop();
      await load.done;
    }
    const metrics = await serve.metrics();
    t.diagnostic(`killed worker ${killed}; outcomes: ${outcomes}`);
    assert.equal(outcomes.get('failed on other worker'), 0, `no request failed on the surviving worker: ${outcomes}`);
    assert.equal(outcomes.get('failed on unknown worker'), 0, `${outcomes}`);
    assert.equal(metricSum(metrics, 'portico_worker_restarts_total'), 1);
    assert.equal((await fetch(`${serve.adminOrigin}/readyz`)).status, 200);
    assert.equal(await serve.stop(), 0);
  } finally {
    await Promise.all(clients.map((client) => client.destroy()));
    serve.run.child.kill('SIGKILL');
    await backend.close();
    await dir.remove();
  }
});
