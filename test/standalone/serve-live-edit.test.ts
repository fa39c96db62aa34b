// `serve` end to end, in process, over real sockets: manifests on disk, real backends on
// loopback addresses, the real proxy and admin listeners. Edits to the manifests swap the
// table under a steady load without a failed request; a broken edit keeps the last table.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { buildConfig } from '../../src/config/config.ts';
import { type RunningPortico, startPortico } from '../../src/main.ts';
import { captureLogger, LEVEL, type LogLine } from '../runtime/capture-logger.ts';
import { endpointSliceYaml, INGRESS_CLASS_YAML, ingressYaml, serviceYaml, yamlStream } from './manifest-snippets.ts';
import { waitFor } from './wait-for.ts';

const LOAD_WORKERS = 4;
const LOAD_MAX_REQUESTS = 20_000;
const LOAD_MAX_MS = 30_000;

function startBackend(address: string, name: string): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    response.end(`backend ${name}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve(server));
  });
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

const objects = (a: { address: string; port: number }, portB: number): string =>
  yamlStream(
    INGRESS_CLASS_YAML,
    serviceYaml('svc-a', 80),
    serviceYaml('svc-b', 80),
    endpointSliceYaml('svc-a-1', 'svc-a', a.port, [a.address]),
    endpointSliceYaml('svc-b-1', 'svc-b', portB, ['127.0.0.32']),
  );

const ingress = (service: string): string =>
  ingressYaml({ name: 'live', host: 'live.test', path: '/', service, port: 80 });

describe('serve: live manifest edits', () => {
  let dir = '';
  let backends: Server[] = [];
  let portico: RunningPortico;
  let lines: LogLine[] = [];
  let proxyBase = '';
  let adminBase = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-serve-'));
    backends = [await startBackend('127.0.0.31', 'A'), await startBackend('127.0.0.32', 'B')];
    await writeFile(
      join(dir, 'objects.yaml'),
      objects({ address: '127.0.0.31', port: portOf(backends[0] as Server) }, portOf(backends[1] as Server)),
    );
    await writeFile(join(dir, 'ingress.yaml'), ingress('svc-a'));
    const result = buildConfig({
      manifests: [dir],
      httpPort: '0',
      adminPort: '0',
      bindAddress: '127.0.0.1',
      shutdownGracePeriod: '0',
    });
    assert.ok(result.ok);
    const captured = captureLogger('info');
    lines = captured.lines;
    portico = await startPortico(result.config, { processLogger: { logger: captured.logger, flush: () => {} } });
    proxyBase = `http://127.0.0.1:${portico.httpAddress.port}`;
    adminBase = `http://127.0.0.1:${portico.adminAddress.port}`;
  });

  after(async () => {
    await portico?.stop('test over');
    await Promise.all(backends.map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(dir, { recursive: true, force: true });
  });

  async function get(path = '/'): Promise<{ status: number; body: string }> {
    // fetch() refuses to set Host; undici's request does not.
    const response = await request(`${proxyBase}${path}`, { headers: { host: 'live.test' } });
    return { status: response.statusCode, body: await response.body.text() };
  }

  it('is ready and routes to the first backend', async () => {
    assert.equal((await fetch(`${adminBase}/readyz`)).status, 200);
    assert.deepEqual(await get(), { status: 200, body: 'backend A\n' });
  });

  it('an edit under steady load swaps the table with zero failed requests', async () => {
    const generationBefore = portico.state.routing().generation;
    const failures: string[] = [];
    const seen: string[] = [];
    let stop = false;
    let sent = 0;
    const deadline = Date.now() + LOAD_MAX_MS;
    const worker = async (): Promise<void> => {
      while (!stop && sent < LOAD_MAX_REQUESTS && Date.now() < deadline) {
        sent++;
        try {
          const { status, body } = await get(`/req/${sent}`);
          if (status !== 200) failures.push(`${status} ${body.trim()}`);
          else if (seen.at(-1) !== body) seen.push(body);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: LOAD_WORKERS }, worker));
    try {
      await waitFor('load to start', () => sent > 50);
      await writeFile(join(dir, 'ingress.yaml'), ingress('svc-b'));
      await waitFor('the new backend', () => seen.includes('backend B\n'));
      const sentAtSwap = sent;
      await waitFor('more load after the swap', () => sent > sentAtSwap + 200 || stop);
    } finally {
      stop = true;
      await load;
    }
    assert.deepEqual(failures, []);
    // Workers interleave, so the order of first sightings may wobble briefly; both were seen.
    assert.ok(seen.includes('backend A\n') && seen.includes('backend B\n'), JSON.stringify(seen));
    assert.equal((await get()).body, 'backend B\n');
    assert.ok(portico.state.routing().generation > generationBefore);
  });

  it('a broken edit keeps the last good table and logs one error line', async () => {
    const generation = portico.state.routing().generation;
    const errorsBefore = lines.filter((line) => line.level === LEVEL.error).length;
    await writeFile(join(dir, 'ingress.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: [\n');
    const error = await waitFor('the error line', () =>
      lines.filter((line) => line.level === LEVEL.error).at(errorsBefore),
    );
    assert.match(error.msg, /ingress\.yaml: .*keeping the file's last good objects/);
    assert.equal(portico.state.routing().generation, generation);
    assert.deepEqual(await get(), { status: 200, body: 'backend B\n' });
    assert.equal((await fetch(`${adminBase}/readyz`)).status, 200);

    await writeFile(join(dir, 'ingress.yaml'), ingress('svc-a'));
    await waitFor('the fixed file', async () => (await get()).body === 'backend A\n');
  });

  it('an EndpointSlice edit moves traffic without rebuilding the table', async () => {
    const generation = portico.state.routing().generation;
    const portB = portOf(backends[1] as Server);
    // svc-a's only endpoint becomes backend B's address and port.
    const text = objects({ address: '127.0.0.32', port: portB }, portB);
    await writeFile(join(dir, 'objects.yaml'), text);
    await waitFor('traffic on the new endpoint', async () => (await get()).body === 'backend B\n');
    assert.equal(portico.state.routing().generation, generation);
  });

  it('/metrics shows the table builds', async () => {
    const text = await (await fetch(`${adminBase}/metrics`)).text();
    const builds = Number(/^portico_table_builds_total\{result="success"\} (\d+)$/m.exec(text)?.[1]);
    assert.ok(builds >= 3, text.slice(0, 2000));
    assert.match(text, /^portico_table_build_duration_seconds_count \d+$/m);
    assert.match(text, /^portico_table_generation \d+$/m);
    assert.match(text, /^portico_ready 1$/m);
  });
});
