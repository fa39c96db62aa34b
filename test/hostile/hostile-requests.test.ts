// Hostile and broken clients, one fixture row each: the right status, the connection closed,
// and nothing smuggled inside the request ever reaching the backend.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, sendRaw, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

interface HostileCase {
  readonly name: string;
  readonly raw: string;
  readonly status: number;
}

const CASES = parse(
  readFileSync(new URL('../fixtures/hostile-requests.yaml', import.meta.url), 'utf8'),
) as HostileCase[];

describe('hostile requests', () => {
  let web: TestBackend;
  let running: RunningProxy;

  before(async () => {
    web = await startBackend('web', '127.0.0.2');
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: web.address, port: web.port }]),
        ingressYaml('example', 'app.test', [{ path: '/', service: 'web' }]),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await web.close();
  });

  for (const hostile of CASES) {
    test(hostile.name, async () => {
      const raw = hostile.raw.replace('{16k}', 'x'.repeat(17 * 1024));
      const seenBefore = web.seen.length;
      // sendRaw resolves when the server closes the connection; a kept-open connection
      // would hit the 5 s timeout and show up as the missing close below.
      const startedAt = Date.now();
      const response = await sendRaw(running.port, raw, 5_000);
      const closedByServer = Date.now() - startedAt < 4_500;
      assert.match(response, new RegExp(`^HTTP/1\\.1 ${hostile.status} `), response.slice(0, 200));
      assert.equal((response.match(/^HTTP\/1\.1 /gm) ?? []).length, 1, 'exactly one response on the connection');
      assert.ok(closedByServer, 'the server closed the connection after the error');
      const reached = web.seen.slice(seenBefore).map((seen) => seen.url);
      assert.ok(!reached.includes('/smuggled'), `a smuggled request reached the backend: ${reached.join(', ')}`);
    });
  }

  test('the proxy still serves normal requests afterwards', async () => {
    const response = await sendRaw(running.port, 'GET /ok HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 200 /);
  });
});
