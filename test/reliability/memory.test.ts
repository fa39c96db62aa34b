// Memory under a long run: the heap (after a full GC) and the RSS after N requests stay within a
// stated bound of their values after N/10. A leak of even a few hundred bytes per request (a
// map keyed by request id, a listener per connection, a log line kept) shows up as growth
// proportional to the requests served: at N = 200,000 that is tens of MB, well past the bound.
//
// Bounds: heap(N) <= 1.2 x heap(N/10); rss(N) <= rss(N/10) + 50 MB.
//
// Size: the issue asks for 1M vs 100k. In process on this project's 2-core machine (client,
// proxy and backend sharing the cores) 100k requests take about 20 s, so 1M would take minutes:
// it is opt-in with PORTICO_SOAK=1 (measured once: 1M requests in 242 s; heap 19.6 MB after
// 100k, 18.8 MB after 1M; RSS +15 MB). The default run does 200k vs 20k with the same bounds,
// which still exposes any per-request leak (see above) within the suite's time budget.
//
// The proxy is the real createProxyServer with a real pino access logger whose lines are
// serialized and dropped (the harness's logger keeps every line, which would be the leak).
// Everything runs in this process, so the figures include the client and the backend: the
// bound is conservative, not lenient.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Client } from 'undici';
import { createMetrics } from '../../src/admin/metrics.ts';
import { createProxyServer } from '../../src/proxy/create-proxy-server.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { errorLabel, startLoad, Tally } from './load-loop.ts';

const SOAK = process.env.PORTICO_SOAK === '1';
const TOTAL_REQUESTS = SOAK ? 1_000_000 : 200_000;
const BASELINE_REQUESTS = TOTAL_REQUESTS / 10;
/** the time bound of the whole run; the count bound is what normally ends it */
const MAX_MS = SOAK ? 900_000 : 120_000;
const WORKERS = 16;
const HEAP_RATIO = 1.2;
const RSS_SLACK_BYTES = 50 * 1024 * 1024;

// A full GC before each reading, so the heap figure is what is live, not what is uncollected.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface MemoryReading {
  readonly heapUsed: number;
  readonly rss: number;
}

async function readMemory(): Promise<MemoryReading> {
  for (let round = 0; round < 3; round++) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

test(
  `memory: heap and RSS after ${TOTAL_REQUESTS.toLocaleString('en')} requests within bounds of ${BASELINE_REQUESTS.toLocaleString('en')}`,
  { timeout: MAX_MS + 60_000 },
  async (t) => {
    const backend: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
      res.end('ok\n');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.71', resolve));
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: '127.0.0.71', port: (backend.address() as AddressInfo).port }]),
        ingressYaml('soak', 'soak.test', [{ path: '/', service: 'web' }]),
      ),
    );
    let logLines = 0;
    const logger = pino(
      { level: 'info' },
      {
        write() {
          logLines++;
        },
      },
    );
    const proxy = createProxyServer({ state, logger, metrics: createMetrics(new Registry()) });
    const { port } = await proxy.listen(0, '127.0.0.1');
    const clients = Array.from({ length: WORKERS }, () => new Client(`http://127.0.0.1:${port}`));
    const tally = new Tally();
    let baseline: MemoryReading | undefined;
    let baselineTaken: Promise<void> | undefined;
    const startedAt = Date.now();
    let baselineMs = 0;
    try {
      const load = startLoad({ workers: WORKERS, maxRequests: TOTAL_REQUESTS, maxMs: MAX_MS }, async (worker, seq) => {
        if (seq === BASELINE_REQUESTS) {
          // One reading at N/10, taken while the other workers pause on it.
          baselineMs = Date.now() - startedAt;
          baselineTaken = readMemory().then((reading) => {
            baseline = reading;
          });
        }
        if (baselineTaken && baseline === undefined) await baselineTaken;
        try {
          const response = await (clients[worker] as Client).request({
            path: `/r/${seq % 1000}`,
            method: 'GET',
            headers: { host: 'soak.test' },
          });
          const body = await response.body.text();
          tally.add(response.statusCode === 200 && body === 'ok\n' ? 'ok' : `status ${response.statusCode}`);
        } catch (error) {
          tally.add(`error ${errorLabel(error)}`, String(error));
        }
      });
      await load.done;
      const totalMs = Date.now() - startedAt;
      const final = await readMemory();
      assert.ok(baseline, 'the baseline reading was taken');
      t.diagnostic(`requests: ${tally.toString()}; access-log lines serialized: ${logLines}`);
      t.diagnostic(
        `after ${BASELINE_REQUESTS} (${baselineMs} ms): heap ${mb(baseline.heapUsed)}, rss ${mb(baseline.rss)}; ` +
          `after ${tally.total()} (${totalMs} ms): heap ${mb(final.heapUsed)}, rss ${mb(final.rss)}`,
      );
      t.diagnostic(
        `heap ratio ${(final.heapUsed / baseline.heapUsed).toFixed(3)} (bound ${HEAP_RATIO}); ` +
          `rss growth ${mb(final.rss - baseline.rss)} (bound ${mb(RSS_SLACK_BYTES)})`,
      );
      assert.equal(tally.get('ok'), tally.total(), `failed requests:\n${tally.toString()}`);
      // The time bound may end a run on a slow machine early; the comparison still means
      // something once the run is several times the baseline.
      assert.ok(tally.total() >= BASELINE_REQUESTS * 5, `only ${tally.total()} requests within ${MAX_MS} ms`);
      assert.ok(final.heapUsed <= baseline.heapUsed * HEAP_RATIO, 'heap within 1.2x of the baseline');
      assert.ok(final.rss <= baseline.rss + RSS_SLACK_BYTES, 'rss within 50 MB of the baseline');
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await proxy.close({ graceMs: 1_000 });
      await new Promise((resolve) => backend.close(resolve));
    }
  },
);
