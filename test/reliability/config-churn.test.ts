// Config churn under load, after HAProxy's published method (load while pods scale and
// Ingress annotations change), through the real `serve` process in standalone mode:
//
//   every 200 ms for 30 s: the Ingress is edited (its upstream-vhost annotation carries the
//   edit's sequence number, and a second path is toggled) and the EndpointSlice is scaled
//   between 1 and 4 endpoints; 4 keep-alive clients send GETs throughout.
//
// Expected: 0 failed requests; no table generation lost: each client sees the edit sequence
// only move forward (a request reads the table once, and a client's requests follow each
// other, so an older edit after a newer one would mean a table rolled back), the final table
// serves the final edit (its vhost and its path toggle), /metrics shows the generation grown
// and no failed build.
//
// How the edits are written matters, and is not what this test is about: each edit replaces
// its file by rename (written whole elsewhere first), and the files are given to `serve` one
// by one. Rewriting in place (truncate, then write) lets a rescan that lands between the two
// read an empty file, which Portico applies as "every object of this file deleted": under
// this churn that happened a few times in 30 s (404s and 503s until the next rescan). And a
// *directory* argument stops seeing edits altogether once a file in it is replaced by rename:
// the second test here, marked todo.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, request } from 'undici';
import { ingressYaml, manifests, serviceYaml, sliceYaml, type TestPath } from '../support/cluster-manifests.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { errorLabel, sleep, startLoad, Tally } from './load-loop.ts';
import { type NamedBackend, startBackendsOnOnePort } from './named-backends.ts';
import { makeManifestDir, metricValue, startServe } from './serve-process.ts';

const WORKERS = 4;
const HOST = 'churn.test';
const CHURN_MS = 30_000;
const TICK_MS = 200;
const MAX_TICKS = CHURN_MS / TICK_MS;

const vhost = (seq: number): string => `v${seq}.churn.test`;

/** Edit `seq`: upstream-vhost names it; `/toggle` exists on even edits only. */
function churnIngress(seq: number): string {
  const paths: TestPath[] = [{ path: '/', service: 'web' }];
  if (seq % 2 === 0) paths.push({ path: '/toggle', service: 'web', pathType: 'Exact' });
  return ingressYaml('churn', HOST, paths, { 'nginx.ingress.kubernetes.io/upstream-vhost': vhost(seq) });
}

/** 1, 2, 3, 4, 1, ... ready endpoints; the ones scaled away simply leave the slice. */
function churnSlice(seq: number, backends: readonly NamedBackend[]): string {
  const count = 1 + (seq % backends.length);
  return sliceYaml(
    'web',
    backends.slice(0, count).map((backend) => ({ ip: backend.address, port: backend.port })),
  );
}

describe('config churn under load', () => {
  test(
    'Ingress edited and EndpointSlice scaled every 200 ms for 30 s: 0 failed requests, no generation lost',
    { timeout: 90_000 },
    async (t) => {
      const backends = await startBackendsOnOnePort({
        a: '127.0.0.81',
        b: '127.0.0.82',
        c: '127.0.0.83',
        d: '127.0.0.84',
      });
      const dir = await makeManifestDir('churn');
      const files = ['objects.yaml', 'ingress.yaml', 'slice.yaml'];
      await dir.write('objects.yaml', manifests(serviceYaml('web')));
      await dir.write('ingress.yaml', churnIngress(0));
      await dir.write('slice.yaml', churnSlice(0, backends));
      // File arguments, replaced by rename: see the header for why not the directory.
      const serve = await startServe(files.map((name) => dir.file(name)));
      const clients = Array.from(
        { length: WORKERS },
        () => new Client(serve.proxyOrigin, { headersTimeout: 10_000, bodyTimeout: 10_000 }),
      );
      try {
        const metricsBefore = await serve.metrics();
        const generationBefore = metricValue(metricsBefore, 'portico_table_generation') ?? Number.NaN;
        const tally = new Tally();
        /** per worker: the highest edit sequence it has seen, and how often it went backwards */
        const highest = Array.from({ length: WORKERS }, () => -1);
        const distinctSeen = new Set<number>();
        let regressions = 0;
        const load = startLoad(
          { workers: WORKERS, maxRequests: 500_000, maxMs: CHURN_MS + 20_000 },
          async (worker, seq) => {
            try {
              const response = await (clients[worker] as Client).request({
                path: `/r/${seq}`,
                method: 'GET',
                headers: { host: HOST },
              });
              const body = await response.body.text();
              const edit = /^[abcd] v(\d+)\.churn\.test$/.exec(body.trim());
              if (response.statusCode !== 200 || !edit) {
                tally.add(`status ${response.statusCode}`, body.trim());
                return;
              }
              tally.add('ok');
              const editSeq = Number(edit[1]);
              distinctSeen.add(editSeq);
              if (editSeq < (highest[worker] as number)) regressions++;
              else highest[worker] = editSeq;
            } catch (error) {
              tally.add(`error ${errorLabel(error)}`, String(error));
            }
          },
        );

        let ticks = 0;
        let lastSeq = 0;
        try {
          await waitFor('load to start', () => load.sent() > 50);
          const startedAt = Date.now();
          while (ticks < MAX_TICKS && Date.now() - startedAt < CHURN_MS + 5_000) {
            ticks++;
            lastSeq = ticks;
            await Promise.all([
              dir.replace('ingress.yaml', churnIngress(lastSeq)),
              dir.replace('slice.yaml', churnSlice(lastSeq, backends)),
            ]);
            await sleep(Math.max(0, startedAt + ticks * TICK_MS - Date.now()));
          }
          // The last edit must land while the load still runs.
          await waitFor('the last edit served', () => highest.some((seen) => seen === lastSeq), {
            timeoutMs: 10_000,
          });
        } finally {
          load.stop();
          await load.done;
        }

        const get = async (path: string): Promise<{ status: number; body: string }> => {
          const response = await request(`${serve.proxyOrigin}${path}`, { headers: { host: HOST } });
          return { status: response.statusCode, body: (await response.body.text()).trim() };
        };
        // The two files of the last tick may land in two rescans: allow the second to arrive.
        const expectedReady = 1 + (lastSeq % backends.length);
        await waitFor(
          'the last scale in force',
          async () =>
            metricValue(await serve.metrics(), 'portico_endpoints', { service: 'web', condition: 'ready' }) ===
            expectedReady,
          { timeoutMs: 5_000 },
        ).catch(() => undefined);
        const final = await get('/');
        const toggle = await get('/toggle');
        const metrics = await serve.metrics();
        const generationAfter = metricValue(metrics, 'portico_table_generation') ?? Number.NaN;
        const readyAfter = metricValue(metrics, 'portico_endpoints', { service: 'web', condition: 'ready' });
        t.diagnostic(`requests: ${tally.toString()}`);
        t.diagnostic(
          `edits: ${ticks} Ingress + ${ticks} EndpointSlice; distinct edits seen by clients: ${distinctSeen.size}; ` +
            `per-client regressions: ${regressions}`,
        );
        t.diagnostic(
          `table generation ${generationBefore} -> ${generationAfter}; builds ok=${metricValue(metrics, 'portico_table_builds_total', { result: 'success' })} ` +
            `error=${metricValue(metrics, 'portico_table_builds_total', { result: 'error' }) ?? 0}; ` +
            `retries=${metricValue(metrics, 'portico_upstream_retries_total', { service: 'web' }) ?? 0}`,
        );
        t.diagnostic(
          `served per backend: ${backends.map((backend) => `${backend.name}=${backend.served()}`).join(' ')}`,
        );
        t.diagnostic(`final: / -> ${final.status} "${final.body}", /toggle -> ${toggle.status}`);

        assert.ok(ticks >= MAX_TICKS * 0.9, `the churn ran (${ticks} ticks)`);
        assert.equal(tally.get('ok'), tally.total(), `failed requests:\n${tally.toString()}`);
        assert.equal(regressions, 0, 'no client saw an older edit after a newer one');
        assert.equal(final.status, 200);
        assert.match(final.body, new RegExp(`^[abcd] ${vhost(lastSeq).replaceAll('.', '\\.')}$`));
        assert.equal(toggle.status, lastSeq % 2 === 0 ? 200 : 404, 'the last path toggle is in force');
        assert.equal(readyAfter, expectedReady, 'the last scale is in force');
        assert.ok(generationAfter > generationBefore, 'the table generation grew');
        assert.equal(metricValue(metrics, 'portico_table_builds_total', { result: 'error' }) ?? 0, 0);
        for (const backend of backends) assert.ok(backend.served() > 0, `${backend.name} got traffic`);
        assert.equal(await serve.stop(), 0);
      } finally {
        await Promise.all(clients.map((client) => client.close()));
        serve.run.child.kill('SIGKILL');
        await Promise.all(backends.map((backend) => backend.kill()));
        await dir.remove();
      }
    },
  );

  test(
    // Failed while directories were watched with fs.watch({ recursive: true }), which on Linux
    // goes deaf after the first rename over a file in the directory.
    'edits saved by rename over the manifest (atomic replace) are all applied',
    async (t) => {
      const backends = await startBackendsOnOnePort({ a: '127.0.0.85' });
      const dir = await makeManifestDir('replace');
      await dir.write('objects.yaml', manifests(serviceYaml('web'), churnSlice(0, backends)));
      await dir.write('ingress.yaml', churnIngress(0));
      const serve = await startServe(dir.path);
      const applied: string[] = [];
      try {
        const served = async (): Promise<string> => {
          const response = await request(`${serve.proxyOrigin}/`, { headers: { host: HOST } });
          return (await response.body.text()).trim();
        };
        // 1 and 2 by rename (what an atomic save does), 3 by an in-place write afterwards.
        for (const [seq, how] of [
          [1, 'rename'],
          [2, 'rename'],
          [3, 'in place'],
        ] as const) {
          if (how === 'rename') await dir.replace('ingress.yaml', churnIngress(seq));
          else await dir.write('ingress.yaml', churnIngress(seq));
          try {
            await waitFor(`edit ${seq} (${how}) served`, async () => (await served()) === `a ${vhost(seq)}`, {
              timeoutMs: 3_000,
            });
            applied.push(`${seq} ${how}: applied`);
          } catch {
            applied.push(`${seq} ${how}: NOT applied (still "${await served()}")`);
          }
        }
        t.diagnostic(applied.join('; '));
        assert.deepEqual(applied, ['1 rename: applied', '2 rename: applied', '3 in place: applied']);
      } finally {
        serve.run.child.kill('SIGKILL');
        await Promise.all(backends.map((backend) => backend.kill()));
        await dir.remove();
      }
    },
  );
});
