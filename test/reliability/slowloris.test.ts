// Slowloris: clients that open a connection and send their header section one line every
// 200 ms, never finishing it, to hold sockets (and file descriptors) for as long as the proxy
// lets them. The header timeout must close them: each gets 408 and the connection closed
// within the configured header timeout plus a small slack, while normal requests keep
// being answered.
//
// Bound: header timeout + 1 s. The slack covers timer granularity, not a sweep: Node's http
// server checks `headersTimeout` only on a sweep every `connectionsCheckingInterval` (30 s by
// default), so with Node's defaults a slowloris is cut somewhere between headersTimeout and
// headersTimeout + 30 s, i.e. up to 90 s at the default 60 s. Portico must run the sweep often
// enough for its header timeout to mean what it says.
//
// The header timeout is `timeouts.clientHeaderMs` (nginx's client_header_timeout). Before it
// existed the proxy set neither a header timeout nor the sweep interval, and this test failed:
// a slowloris client held its socket for 90 s.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import type { ProxyTimeouts } from '../../src/proxy/proxy-options.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { send, startProxy } from '../support/proxy-harness.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { sleep } from './load-loop.ts';
import { startBackendsOnOnePort } from './named-backends.ts';

const HEADER_TIMEOUT_MS = 1_500;
const SLACK_MS = 1_000;
const SLOW_CLIENTS = 20;
const DRIP_MS = 200;

interface SlowClient {
  readonly socket: Socket;
  /** ms from connect to the server closing it, or undefined while open */
  closedAfterMs: number | undefined;
  received: string;
}

function startSlowClient(port: number): SlowClient {
  const socket = connect(port, '127.0.0.1');
  const startedAt = Date.now();
  const client: SlowClient = { socket, closedAfterMs: undefined, received: '' };
  let line = 0;
  const drip = setInterval(() => {
    if (socket.writable) socket.write(`X-Slow-${line++}: still sending\r\n`);
  }, DRIP_MS);
  socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: app.test\r\n'));
  socket.on('data', (chunk: Buffer) => {
    client.received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    clearInterval(drip);
    client.closedAfterMs = Date.now() - startedAt;
  });
  return client;
}

test(
  'slowloris: header-dripping clients get 408 and are closed within the header timeout',
  { timeout: 30_000 },
  async (t) => {
    const [backend] = await startBackendsOnOnePort({ web: '127.0.0.97' });
    assert.ok(backend);
    const state = new TestLiveState(
      manifests(
        serviceYaml('web'),
        sliceYaml('web', [{ ip: backend.address, port: backend.port }]),
        ingressYaml('app', 'app.test', [{ path: '/', service: 'web' }]),
      ),
    );
    const timeouts: Partial<ProxyTimeouts> = { clientHeaderMs: HEADER_TIMEOUT_MS };
    const running = await startProxy(state, { timeouts });
    const clients: SlowClient[] = [];
    try {
      for (let index = 0; index < SLOW_CLIENTS; index++) clients.push(startSlowClient(running.port));
      // Normal requests while the slow clients hold their sockets.
      let normalOk = 0;
      let normalOther = 0;
      const deadline = Date.now() + HEADER_TIMEOUT_MS + SLACK_MS;
      while (Date.now() < deadline && clients.some((client) => client.closedAfterMs === undefined)) {
        const response = await send(running.port, { host: 'app.test' });
        if (response.status === 200) normalOk++;
        else normalOther++;
        await sleep(20);
      }
      await sleep(Math.max(0, deadline - Date.now()));
      const closed = clients.filter((client) => client.closedAfterMs !== undefined);
      const answered408 = clients.filter((client) => /^HTTP\/1\.1 408 /.test(client.received));
      const closedAfter = closed.map((client) => client.closedAfterMs as number);
      t.diagnostic(
        `slow clients: ${SLOW_CLIENTS}; closed by the server within ${HEADER_TIMEOUT_MS + SLACK_MS} ms: ${closed.length} ` +
          `(after ${closedAfter.length ? `${Math.min(...closedAfter)}-${Math.max(...closedAfter)}` : '-'} ms); ` +
          `answered 408: ${answered408.length}; normal requests meanwhile: ok=${normalOk} other=${normalOther}`,
      );
      assert.equal(normalOther, 0, 'normal requests were answered while the slow clients dripped');
      assert.equal(closed.length, SLOW_CLIENTS, 'every slow client was closed within the header timeout + slack');
      assert.equal(answered408.length, SLOW_CLIENTS, 'every slow client got 408');
      for (const after of closedAfter)
        assert.ok(after >= HEADER_TIMEOUT_MS - 100, `not before the timeout (${after} ms)`);
    } finally {
      for (const client of clients) client.socket.destroy();
      await running.close();
      await backend.kill();
    }
  },
);
