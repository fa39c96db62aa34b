// SIGTERM under load, on the real `serve` process: keep-alive clients send GETs to a backend
// that answers after 100 ms (so several requests are always in flight), and the process gets
// SIGTERM mid-load.
//
// Expected:
// - 0 failed requests among those in flight: every request the proxy read (it logged it or the
//   backend saw it), and every request sent before the signal, gets its whole 200;
// - the process exits 0;
// - /readyz turns 503 first: it answers 503 while the drain runs, and never 200 once the proxy
//   has started refusing connections.
// Requests started after shutdown began may fail without having been read: a new connection
// is refused once the listener has closed (ECONNREFUSED), or a request sent on a keep-alive
// connection as the proxy closes it. Those are counted apart: nothing was processed and the
// client can go elsewhere, which is what each client here does (it stops). The second kind
// should not exist: a response finished during the drain should say `Connection: close`, so
// the client opens a new connection (refused, unambiguous) instead of writing a request onto a
// connection that is being closed (reset, ambiguous for a non-idempotent request). The second
// test checks that header (it failed before the proxy marked drained responses).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Client } from 'undici';
import { waitFor } from '../standalone/wait-for.ts';
import { errorLabel, sleep, startLoad } from './load-loop.ts';
import { startBackendsOnOnePort } from './named-backends.ts';
import { makeAppManifestDir, startServe } from './serve-process.ts';

const WORKERS = 8;
const BACKEND_DELAY_MS = 100;

interface Outcome {
  readonly seq: number;
  readonly startedAt: number;
  readonly endedAt: number;
  /** 'ok' or an error label / status */
  readonly result: string;
}

interface Probe {
  readonly startedAt: number;
  readonly result: number | 'refused';
}

test('SIGTERM under load: in-flight requests finish, exit 0, /readyz 503 first', { timeout: 60_000 }, async (t) => {
  const [backend] = await startBackendsOnOnePort(
    { slow: '127.0.0.95' },
    { delayMs: BACKEND_DELAY_MS, recordPaths: true },
  );
  assert.ok(backend);
  const dir = await makeAppManifestDir('sigterm', backend);
  const serve = await startServe(dir.path);
  const clients = Array.from(
    { length: WORKERS },
    () => new Client(serve.proxyOrigin, { headersTimeout: 15_000, bodyTimeout: 15_000 }),
  );
  try {
    const outcomes: Outcome[] = [];
    const load = startLoad({ workers: WORKERS, maxRequests: 50_000, maxMs: 20_000 }, async (worker, seq) => {
      const startedAt = Date.now();
      let result: string;
      try {
        const response = await (clients[worker] as Client).request({
          path: `/r/${seq}`,
          method: 'GET',
          headers: { host: 'app.test' },
        });
        const body = await response.body.text();
        result = response.statusCode === 200 && body.startsWith('slow ') ? 'ok' : `status ${response.statusCode}`;
      } catch (error) {
        result = `error ${errorLabel(error)}`;
      }
      outcomes.push({ seq, startedAt, endedAt: Date.now(), result });
      // A client whose request failed goes elsewhere, as behind a load balancer.
      return result === 'ok';
    });

    const probes: Probe[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const startedAt = Date.now();
        try {
          const response = await fetch(`${serve.adminOrigin}/readyz`);
          await response.arrayBuffer();
          probes.push({ startedAt, result: response.status });
        } catch {
          probes.push({ startedAt, result: 'refused' });
          return;
        }
        await sleep(5);
      }
    })();

    let sigtermAt = 0;
    let sentAtSigterm = 0;
    let exitCode: number | string;
    try {
      await waitFor('load under way', () => outcomes.length > 40);
      sentAtSigterm = load.sent();
      sigtermAt = Date.now();
      serve.run.signal('SIGTERM');
      exitCode = await serve.run.exited();
    } finally {
      probing = false;
      load.stop();
      await load.done;
      await prober;
    }
    // 'exit' can come before the last stdout lines: read the access log only once stdout ended.
    const stdout = serve.run.child.stdout;
    if (stdout && !stdout.closed) await Promise.race([once(stdout, 'close'), sleep(5_000)]);

    const proxied = new Set(
      serve.run
        .logs()
        .filter((line) => line.msg === 'request')
        .map((line) => String(line.path)),
    );
    const reachedBackend = new Set(backend.paths);
    const wasRead = (outcome: Outcome): boolean =>
      proxied.has(`/r/${outcome.seq}`) || reachedBackend.has(`/r/${outcome.seq}`);
    const failed = outcomes.filter((outcome) => outcome.result !== 'ok');
    const inFlightAtSigterm = outcomes.filter((o) => o.startedAt <= sigtermAt && o.endedAt >= sigtermAt);
    const failedInFlight = failed.filter((outcome) => wasRead(outcome) || outcome.seq < sentAtSigterm);
    const refusedAtConnect = failed.filter((outcome) => !wasRead(outcome) && outcome.result === 'error ECONNREFUSED');
    const closedUnread = failed.filter(
      (outcome) => !wasRead(outcome) && outcome.seq >= sentAtSigterm && outcome.result !== 'error ECONNREFUSED',
    );
    const firstRefusalAt = Math.min(
      ...refusedAtConnect.map((outcome) => outcome.endedAt),
      ...closedUnread.map((outcome) => outcome.endedAt),
    );
    const probeCounts = new Map<string, number>();
    for (const probe of probes) probeCounts.set(String(probe.result), (probeCounts.get(String(probe.result)) ?? 0) + 1);
    const readyAfterRefusal = probes.filter((probe) => probe.startedAt > firstRefusalAt && probe.result === 200);
    const firstNotReady = probes.find((probe) => probe.result !== 200);

    t.diagnostic(
      `requests: ${outcomes.length} (ok ${outcomes.length - failed.length}); sent before SIGTERM ${sentAtSigterm}; ` +
        `in flight when SIGTERM was sent ${inFlightAtSigterm.length}, of which ok ${inFlightAtSigterm.filter((o) => o.result === 'ok').length}`,
    );
    t.diagnostic(
      `failed in flight: ${failedInFlight.length}; refused at connect after shutdown began: ${refusedAtConnect.length}; ` +
        `closed unread after shutdown began: ${closedUnread.length} (${closedUnread.map((o) => o.result).join(', ')})`,
    );
    t.diagnostic(
      `/readyz probes: ${[...probeCounts].map(([result, count]) => `${result}=${count}`).join(' ')}; first non-200 ` +
        `${firstNotReady ? `${firstNotReady.result} at +${firstNotReady.startedAt - sigtermAt} ms` : 'none'}; ` +
        `first proxy refusal at +${Number.isFinite(firstRefusalAt) ? firstRefusalAt - sigtermAt : 'none'} ms; exit ${exitCode}`,
    );

    assert.ok(inFlightAtSigterm.length > 0, 'requests were in flight when SIGTERM was sent');
    assert.deepEqual(
      failedInFlight.map((outcome) => `/r/${outcome.seq}: ${outcome.result}`),
      [],
      'no request the proxy had read (or that was sent before SIGTERM) failed',
    );
    assert.equal(exitCode, 0);
    assert.ok(
      probes.some((probe) => probe.result === 503),
      '/readyz answered 503 during the drain',
    );
    assert.ok(
      probes.filter((probe) => probe.startedAt < sigtermAt).every((probe) => probe.result === 200),
      '/readyz was 200 before SIGTERM',
    );
    const firstNotReadyIndex = probes.findIndex((probe) => probe.result !== 200);
    assert.ok(
      probes.slice(firstNotReadyIndex).every((probe) => probe.result !== 200),
      '/readyz never went back to 200',
    );
    assert.deepEqual(readyAfterRefusal, [], '/readyz did not answer 200 once the proxy refused connections');
  } finally {
    await Promise.all(clients.map((client) => client.destroy()));
    serve.run.child.kill('SIGKILL');
    await backend.kill();
    await dir.remove();
  }
});

test('SIGTERM: a response finished during the drain says Connection: close', async (t) => {
  const [backend] = await startBackendsOnOnePort({ slow: '127.0.0.96' }, { delayMs: 400 });
  assert.ok(backend);
  const dir = await makeAppManifestDir('sigterm-close', backend);
  const serve = await startServe(dir.path);
  const client = new Client(serve.proxyOrigin, { headersTimeout: 15_000, bodyTimeout: 15_000 });
  try {
    const get = (path: string) => client.request({ path, method: 'GET', headers: { host: 'app.test' } });
    const first = await get('/before');
    await first.body.text();
    const inFlight = get('/in-flight');
    await waitFor('the request at the backend', () => backend.served() === 2);
    serve.run.signal('SIGTERM');
    const drained = await inFlight;
    const body = await drained.body.text();
    // What a client that keeps going sees on its next request (reported, not asserted: it races the close).
    const next = await get('/next').then(
      async (response) => `${response.statusCode} ${(await response.body.text()).trim()}`,
      (error: unknown) => `error ${errorLabel(error)}`,
    );
    const exitCode = await serve.run.exited();
    t.diagnostic(
      `before SIGTERM: connection=${String(first.headers.connection)}; in flight: ${drained.statusCode} ` +
        `connection=${String(drained.headers.connection)}; next request on the same client: ${next}; exit ${exitCode}`,
    );
    assert.equal(drained.statusCode, 200);
    assert.equal(body.trim(), 'slow app.test');
    assert.equal(drained.headers.connection, 'close');
    assert.equal(exitCode, 0);
  } finally {
    await client.destroy();
    serve.run.child.kill('SIGKILL');
    await backend.kill();
    await dir.remove();
  }
});
