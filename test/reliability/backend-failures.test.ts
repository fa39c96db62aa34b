// Backends failing under load, through the in-process proxy:
//
// 1. One of two endpoints is SIGKILLed (a separate process, so the kernel closes its sockets
//    as it would for a crashed pod) while GETs run. The endpoint stays in the slice, as it
//    would until Kubernetes notices. Idempotent requests are retried once on the other
//    endpoint, whether the dead one reset them mid-exchange or refused the connection, so no
//    GET fails. Responses are a few bytes written in one go: a response already streaming when
//    its backend dies may legitimately be cut (the proxy must not pass a truncated body off
//    as whole), and this test is about the retry, not about that.
// 2. A backend that accepts and never answers: its requests get 504 at the read timeout
//    (1 s here), while another route, served by a healthy backend, keeps answering during
//    the hang. Counts only, no latency bound on the healthy route.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Client } from 'undici';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startProxy } from '../support/proxy-harness.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { errorLabel, sleep, startLoad, Tally } from './load-loop.ts';
import { startBackendsOnOnePort } from './named-backends.ts';

const WORKERS = 4;

/** An HTTP backend in its own process: answers `<name>\n` after `delayMs`, prints its port. */
const CHILD_BACKEND = `
const [address, name, delayMs] = process.argv.slice(1);
const server = require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': name.length + 1 });
    res.end(name + '\\n');
  }, Number(delayMs)));
});
server.listen(0, address, () => console.log(server.address().port));
`;

async function spawnBackend(
  address: string,
  name: string,
  delayMs: number,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', CHILD_BACKEND, address, name, String(delayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  return { child, port: Number(chunk.toString().trim()) };
}

describe('backend failures under load', () => {
  test('an endpoint SIGKILLed mid-load: GETs retried on the other one, 0 failed', { timeout: 60_000 }, async (t) => {
    const doomed = await spawnBackend('127.0.0.91', 'doomed', 20);
    const [survivor] = await startBackendsOnOnePort({ survivor: '127.0.0.92' });
    assert.ok(survivor);
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: '127.0.0.91', port: doomed.port }], 'web-doomed'),
        sliceYaml('web', [{ ip: survivor.address, port: survivor.port }], 'web-survivor'),
        ingressYaml('app', 'app.test', [{ path: '/', service: 'web' }]),
      ),
    );
    const running = await startProxy(state);
    const clients = Array.from(
      { length: WORKERS },
      () => new Client(`http://127.0.0.1:${running.port}`, { headersTimeout: 10_000, bodyTimeout: 10_000 }),
    );
    const tally = new Tally();
    const byBackendBefore = new Map<string, number>();
    let killedAtRequest = -1;
    try {
      const load = startLoad({ workers: WORKERS, maxRequests: 100_000, maxMs: 15_000 }, async (worker, seq) => {
        try {
          const response = await (clients[worker] as Client).request({
            path: `/r/${seq}`,
            method: 'GET',
            headers: { host: 'app.test' },
          });
          const body = (await response.body.text()).trim();
          const name = body.split(' ')[0] ?? '';
          if (response.statusCode === 200 && (name === 'doomed' || name === 'survivor')) {
            tally.add('ok');
            if (killedAtRequest < 0) byBackendBefore.set(name, (byBackendBefore.get(name) ?? 0) + 1);
          } else tally.add(`status ${response.statusCode}`, body);
        } catch (error) {
          tally.add(`error ${errorLabel(error)}`, String(error));
        }
      });
      try {
        await waitFor('load on both endpoints', () => (byBackendBefore.get('doomed') ?? 0) > 100);
        // Requests are in flight on the doomed endpoint right now (it answers after 20 ms).
        killedAtRequest = load.sent();
        doomed.child.kill('SIGKILL');
        await once(doomed.child, 'exit');
        await sleep(1_500);
        await waitFor('load after the kill', () => load.sent() > killedAtRequest + 500);
      } finally {
        load.stop();
        await load.done;
      }
      const logs = running.accessLogs();
      const afterKill = logs.filter((line) => Number(String(line.path).slice(3)) >= killedAtRequest);
      const retried = logs.filter((line) => line.attempts === 2).length;
      const retries = (
        await running.metrics.registry.getSingleMetric('portico_upstream_retries_total')?.get()
      )?.values.reduce((sum, sample) => sum + sample.value, 0);
      const refused = (
        await running.metrics.registry.getSingleMetric('portico_upstream_connect_errors_total')?.get()
      )?.values.find((sample) => sample.labels.reason === 'refused')?.value;
      const connectErrors = (
        await running.metrics.registry.getSingleMetric('portico_upstream_connect_errors_total')?.get()
      )?.values.map((sample) => `${String(sample.labels.reason)}=${sample.value}`);
      t.diagnostic(`requests: ${tally.toString()}; killed after request #${killedAtRequest}`);
      t.diagnostic(
        `before the kill: doomed=${byBackendBefore.get('doomed')} survivor=${byBackendBefore.get('survivor')}`,
      );
      t.diagnostic(
        `access log: ${logs.length} lines, ${afterKill.length} after the kill, ${retried} with 2 attempts; ` +
          `retries metric=${retries} (after a refused connect: ${refused ?? 0}, after a reset mid-exchange: ` +
          `${(retries ?? 0) - (refused ?? 0)}); connect errors: ${connectErrors?.join(' ') ?? 'none'}`,
      );
      assert.equal(tally.get('ok'), tally.total(), `failed GETs:\n${tally.toString()}`);
      assert.ok(retried > 0, 'some GETs were retried on the survivor');
      assert.ok(
        afterKill.every(
          (line) => line.status === 200 && line.upstreamAddress === `${survivor.address}:${survivor.port}`,
        ),
        'after the kill every request was answered by the survivor',
      );
    } finally {
      doomed.child.kill('SIGKILL');
      await Promise.all(clients.map((client) => client.close()));
      await running.close();
      await survivor.kill();
    }
  });

  test(
    'a hanging backend gets 504 at the read timeout while another route keeps answering',
    { timeout: 60_000 },
    async (t) => {
      const READ_TIMEOUT_MS = 1_000;
      const HANGING_REQUESTS = 3;
      // Accepts, reads, never answers.
      const hungSockets = new Set<Socket>();
      const hanging = createTcpServer((socket) => {
        hungSockets.add(socket);
        socket.on('error', () => {});
        socket.resume();
      });
      await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.93', resolve));
      const [healthy] = await startBackendsOnOnePort({ healthy: '127.0.0.94' });
      assert.ok(healthy);
      const state = new TestLiveState(
        manifests(
          serviceYaml('hang'),
          serviceYaml('web'),
          sliceYaml('hang', [{ ip: '127.0.0.93', port: (hanging.address() as AddressInfo).port }]),
          sliceYaml('web', [{ ip: healthy.address, port: healthy.port }]),
          ingressYaml('hang', 'hang.test', [{ path: '/', service: 'hang' }]),
          ingressYaml('app', 'app.test', [{ path: '/', service: 'web' }]),
        ),
      );
      const running = await startProxy(state, { timeouts: { readMs: READ_TIMEOUT_MS } });
      const origin = `http://127.0.0.1:${running.port}`;
      const clients = Array.from({ length: 2 }, () => new Client(origin, { headersTimeout: 10_000 }));
      const healthyTally = new Tally();
      let hangWindow: { from: number; to: number } | undefined;
      let duringHang = 0;
      try {
        const load = startLoad(
          { workers: clients.length, maxRequests: 100_000, maxMs: 15_000 },
          async (worker, seq) => {
            try {
              const response = await (clients[worker] as Client).request({
                path: `/ok/${seq}`,
                method: 'GET',
                headers: { host: 'app.test' },
              });
              const body = (await response.body.text()).trim();
              const ok = response.statusCode === 200 && body.startsWith('healthy');
              healthyTally.add(ok ? 'ok' : `status ${response.statusCode}`, ok ? undefined : body);
              if (ok && hangWindow && hangWindow.to === 0) duringHang++;
            } catch (error) {
              healthyTally.add(`error ${errorLabel(error)}`, String(error));
            }
          },
        );
        let hung: { status: number; elapsedMs: number; code: string }[] = [];
        try {
          await waitFor('healthy load', () => healthyTally.get('ok') > 100);
          hangWindow = { from: Date.now(), to: 0 };
          hung = await Promise.all(
            Array.from({ length: HANGING_REQUESTS }, async (_, index) => {
              const startedAt = Date.now();
              // One connection each, so the three hang side by side.
              const client = new Client(origin, { headersTimeout: 10_000 });
              try {
                const response = await client.request({
                  path: `/hang/${index}`,
                  method: 'GET',
                  headers: { host: 'hang.test' },
                });
                const body = await response.body.text();
                return {
                  status: response.statusCode,
                  elapsedMs: Date.now() - startedAt,
                  code: /PORTICO_ERR_[A-Z_]+/.exec(body)?.[0] ?? '',
                };
              } finally {
                await client.close();
              }
            }),
          );
          hangWindow.to = Date.now();
        } finally {
          load.stop();
          await load.done;
        }
        t.diagnostic(`hanging route: ${hung.map((h) => `${h.status} ${h.code} after ${h.elapsedMs} ms`).join('; ')}`);
        t.diagnostic(
          `healthy route: ${healthyTally.toString()}; answered during the ${hangWindow.to - hangWindow.from} ms hang: ${duringHang}`,
        );
        t.diagnostic(`connections the hanging backend accepted: ${hungSockets.size}`);
        for (const result of hung) {
          assert.equal(result.status, 504);
          assert.equal(result.code, 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT');
          // "At its timeout": not before it (undici's timers have ~0.5 s granularity), and not
          // somewhere much later (bounded loosely; this is no performance figure).
          assert.ok(result.elapsedMs >= READ_TIMEOUT_MS - 500, `504 only at the timeout (${result.elapsedMs} ms)`);
          assert.ok(
            result.elapsedMs < READ_TIMEOUT_MS + 4_000,
            `504 at the timeout, not long after (${result.elapsedMs} ms)`,
          );
        }
        assert.equal(
          healthyTally.get('ok'),
          healthyTally.total(),
          `healthy route failures:\n${healthyTally.toString()}`,
        );
        assert.ok(duringHang > 50, `the healthy route kept answering during the hang (${duringHang})`);
      } finally {
        await Promise.all(clients.map((client) => client.close()));
        await running.close();
        for (const socket of hungSockets) socket.destroy();
        await new Promise((resolve) => hanging.close(resolve));
        await healthy.kill();
      }
    },
  );
});
