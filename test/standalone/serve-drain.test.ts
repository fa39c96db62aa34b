// Shutdown drains: /readyz fails at once while the listener keeps serving for the grace period;
// once the grace period ends (here: skipGracePeriod, as a second signal does) the listener stops
// taking connections, and a request already in flight still gets its whole response.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { buildConfig } from '../../src/config/config.ts';
import { startPortico } from '../../src/main.ts';
import { connectionRefused } from '../reliability/serve-process.ts';
import { captureLogger } from '../runtime/capture-logger.ts';
import { endpointSliceYaml, INGRESS_CLASS_YAML, serviceYaml, yamlStream } from './manifest-snippets.ts';
import { waitFor } from './wait-for.ts';

const manifests = (port: number): string =>
  yamlStream(
    INGRESS_CLASS_YAML,
    serviceYaml('slow', 80),
    endpointSliceYaml('slow-1', 'slow', port, ['127.0.0.41']),
    `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: slow, namespace: default }
spec:
  ingressClassName: portico
  defaultBackend: { service: { name: slow, port: { number: 80 } } }
`,
  );

describe('serve: drain on stop', () => {
  it('fails /readyz, serves through the grace period, finishes the in-flight request, then closes', async () => {
    const held: (() => void)[] = [];
    const backend: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first half, ');
      held.push(() => res.end('second half\n'));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.41', resolve));
    const dir = await mkdtemp(join(tmpdir(), 'portico-drain-'));
    await writeFile(join(dir, 'all.yaml'), manifests((backend.address() as AddressInfo).port));
    const result = buildConfig({
      manifests: [dir],
      httpPort: '0',
      adminPort: '0',
      bindAddress: '127.0.0.1',
      // Long: the test ends it with skipGracePeriod, so nothing here depends on timing.
      shutdownGracePeriod: '10m',
    });
    assert.ok(result.ok);
    const { logger } = captureLogger('warn');
    const portico = await startPortico(result.config, { processLogger: { logger, flush: () => {} } });
    const proxy = `http://127.0.0.1:${portico.httpAddress.port}`;
    const readyz = `http://127.0.0.1:${portico.adminAddress.port}/readyz`;
    try {
      assert.equal((await fetch(readyz)).status, 200);
      const inFlight = request(`${proxy}/slow`, { headers: { host: 'anything.test' } });
      await waitFor('the backend to hold the request', () => held.length === 1);

      const stopping = portico.stop('test');
      await waitFor('/readyz to fail', async () => (await fetch(readyz)).status === 503);
      // The grace period: load balancers still send traffic until they notice, and it is served.
      const duringGrace = await request(`${proxy}/during-grace`, { headers: { host: 'anything.test' } });
      assert.equal(duringGrace.statusCode, 200);
      held.pop()?.();
      assert.equal(await duringGrace.body.text(), 'first half, second half\n');

      portico.skipGracePeriod();
      await waitFor('the listener to refuse connections', () => connectionRefused(portico.httpAddress.port));
      await assert.rejects(
        request(`${proxy}/new`, { headers: { host: 'anything.test' } }).then((r) => r.body.text()),
        'a new connection is refused while draining',
      );

      held.shift()?.();
      const response = await inFlight;
      assert.equal(response.statusCode, 200);
      assert.equal(await response.body.text(), 'first half, second half\n');
      await stopping;
      await assert.rejects(fetch(readyz), 'the admin listener is closed after the drain');
    } finally {
      for (const release of held) release();
      await portico.stop('cleanup');
      await new Promise((resolve) => backend.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
