// The admin listener over a real socket.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { AdminServer } from '../../src/admin/admin-server.ts';
import { createControlMetrics } from '../../src/admin/control-metrics.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import { DEFAULT_COMPILE_OPTIONS } from '../../src/compile/compile-options.ts';
import { ControlLoop } from '../../src/runtime/control-loop.ts';
import { captureLogger } from '../runtime/capture-logger.ts';

describe('admin server', () => {
  let ready = false;
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const server = new AdminServer({ registry, isReady: () => ready, logger: captureLogger().logger });
  let base = '';

  before(async () => {
    const address = await server.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${address.port}`;
  });
  after(() => server.close());

  it('/healthz answers 200 whatever the readiness', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'ok\n');
  });

  it('/readyz follows the readiness function, both ways', async () => {
    ready = false;
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    ready = false;
    assert.equal((await fetch(`${base}/readyz`)).status, 503, 'turns unready again (drain)');
  });

  it('/metrics serves the registry in the Prometheus text format', async () => {
    metrics.tableBuilds.inc({ result: 'success' });
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await response.text(), /^portico_table_builds_total\{result="success"\} 1$/m);
  });

  it('answers HEAD without a body, 404 for other paths and 405 for other methods', async () => {
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const post = await fetch(`${base}/readyz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('ignores the query string', async () => {
    assert.equal((await fetch(`${base}/healthz?verbose=1`)).status, 200);
  });
});

describe('admin server with the control loop as its readiness', () => {
  it('/readyz is 503 until the source has synced and the first table is built, then 200', async () => {
    const registry = new Registry();
    const { logger } = captureLogger('silent');
    const loop = new ControlLoop({
      compileOptions: DEFAULT_COMPILE_OPTIONS,
      holdoffMs: 50,
      maxDelayMs: 500,
      logger,
      metrics: createMetrics(registry),
      controlMetrics: createControlMetrics(registry),
    });
    const server = new AdminServer({ registry, isReady: () => loop.ready, logger });
    const address = await server.listen(0, '127.0.0.1');
    try {
      const readyz = `http://127.0.0.1:${address.port}/readyz`;
      assert.equal((await fetch(readyz)).status, 503);
      loop.markSynced();
      assert.equal((await fetch(readyz)).status, 200);
      assert.match(
        await (await fetch(readyz.replace('/readyz', '/metrics'))).text(),
        /^portico_table_builds_total\{result="success"\} 1$/m,
      );
    } finally {
      loop.close();
      await server.close();
    }
  });
});
