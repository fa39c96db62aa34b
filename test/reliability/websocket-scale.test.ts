// 1,000 concurrent WebSockets through the proxy: all opened and held at once (the backend
// sees 1,000 clients at the same moment), each echoes one message, then all are closed by
// their clients with 1000 and the close completes cleanly on both sides; afterwards the proxy
// holds no connection and the backend no client. Everything runs in this process: about
// 4,000 file descriptors at the peak (client, proxy front, proxy upstream, backend).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { startProxy } from '../support/proxy-harness.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { Tally } from './load-loop.ts';

const SOCKETS = 1_000;
/** handshakes in progress at once while opening (the listen backlog is 511) */
const OPENING_AT_ONCE = 100;

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { host: 'ws.test' }, handshakeTimeout: 10_000 });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, response) =>
      reject(new Error(`handshake answered ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      resolve(data.toString());
    });
    socket.send(text);
  });
}

function closeCleanly(socket: WebSocket): Promise<{ code: number }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
    }, 10_000);
    socket.once('close', (code: number) => {
      clearTimeout(timer);
      resolve({ code });
    });
    socket.close(1000, 'done');
  });
}

test(
  `${SOCKETS.toLocaleString('en')} concurrent WebSockets held, echoed and released`,
  { timeout: 90_000 },
  async (t) => {
    const backend: Server = createServer((_req, res) => res.end('plain'));
    const wss = new WebSocketServer({ server: backend });
    let peak = 0;
    const serverCloseCodes = new Tally();
    wss.on('connection', (socket) => {
      peak = Math.max(peak, wss.clients.size);
      socket.on('message', (data: Buffer) => socket.send(`echo:${data.toString()}`));
      socket.on('close', (code: number) => serverCloseCodes.add(String(code)));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.99', resolve));
    const state = new TestLiveState(
      manifests(
        serviceYaml('ws'),
        sliceYaml('ws', [{ ip: '127.0.0.99', port: (backend.address() as AddressInfo).port }]),
        ingressYaml('ws', 'ws.test', [{ path: '/', service: 'ws' }]),
      ),
    );
    const running = await startProxy(state);
    const url = `ws://127.0.0.1:${running.port}/chat`;
    const sockets: WebSocket[] = [];
    try {
      const openErrors = new Tally();
      for (let next = 0; next < SOCKETS; next += OPENING_AT_ONCE) {
        const batch = await Promise.allSettled(
          Array.from({ length: Math.min(OPENING_AT_ONCE, SOCKETS - next) }, () => open(url)),
        );
        for (const result of batch) {
          if (result.status === 'fulfilled') sockets.push(result.value);
          else openErrors.add('error', String(result.reason));
        }
      }
      await waitFor('the backend to hold every socket', () => wss.clients.size === sockets.length, {
        timeoutMs: 10_000,
      });
      const heldAtOnce = wss.clients.size;
      const openAtOnce = sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length;

      const echoes = new Tally();
      await Promise.all(
        sockets.map(async (socket, index) => {
          try {
            const reply = await echo(socket, `m${index}`);
            if (reply === `echo:m${index}`) echoes.add('ok');
            else echoes.add('wrong', reply);
          } catch (error) {
            echoes.add('error', String(error));
          }
        }),
      );
      const stillOpen = sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length;

      const clientCloseCodes = new Tally();
      await Promise.all(sockets.map(async (socket) => clientCloseCodes.add(String((await closeCleanly(socket)).code))));
      await waitFor('the backend to release every socket', () => wss.clients.size === 0, { timeoutMs: 10_000 });
      const proxyConnections = async (): Promise<number> =>
        new Promise((resolve, reject) =>
          running.proxy.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
        );
      await waitFor('the proxy to release every connection', async () => (await proxyConnections()) === 0, {
        timeoutMs: 10_000,
      });
      const wsLogLines = running.accessLogs().filter((line) => line.upgrade === 'websocket');

      t.diagnostic(
        `opened ${sockets.length}/${SOCKETS} (errors: ${openErrors.get('error')}); held at once: backend ${heldAtOnce}, ` +
          `client side open ${openAtOnce}; backend peak ${peak}`,
      );
      t.diagnostic(`echoes: ${echoes.toString()}; open after echo: ${stillOpen}`);
      t.diagnostic(
        `close codes seen by clients: ${clientCloseCodes.toString()}; by the backend: ${serverCloseCodes.toString()}; ` +
          `websocket access-log lines: ${wsLogLines.length}`,
      );
      assert.equal(sockets.length, SOCKETS, `every WebSocket opened:\n${openErrors.toString()}`);
      assert.equal(heldAtOnce, SOCKETS, 'the backend held all of them at once');
      assert.equal(openAtOnce, SOCKETS);
      assert.equal(echoes.get('ok'), SOCKETS, echoes.toString());
      assert.equal(stillOpen, SOCKETS, 'all still open after their echo');
      assert.equal(
        clientCloseCodes.get('1000'),
        SOCKETS,
        `clean closes at the clients: ${clientCloseCodes.toString()}`,
      );
      assert.equal(
        serverCloseCodes.get('1000'),
        SOCKETS,
        `clean closes at the backend: ${serverCloseCodes.toString()}`,
      );
      assert.equal(wsLogLines.length, SOCKETS, 'one access-log line per WebSocket, written when it closed');
    } finally {
      for (const socket of sockets) socket.terminate();
      await running.close();
      wss.close();
      backend.closeAllConnections();
      await new Promise((resolve) => backend.close(resolve));
    }
  },
);
