// WebSocket upgrades through the proxy: routed by the same table, echoed end to end; upgrades
// with no route or no endpoint get a plain HTTP error on the socket.

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, startProxy } from '../support/proxy-harness.ts';
import { TestLiveState } from '../support/test-live-state.ts';

interface Opened {
  readonly socket: WebSocket;
  readonly upgradeHeaders: IncomingHttpHeaders;
}

function open(port: number, path: string, host: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host } });
    socket.once('upgrade', (response) => resolve({ socket, upgradeHeaders: response.headers }));
    socket.once('unexpected-response', (_req, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => reject(Object.assign(new Error(body), { status: response.statusCode })));
    });
    socket.once('error', reject);
  });
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString())));
}

describe('websocket', () => {
  let backend: Server;
  let wss: WebSocketServer;
  let backendPort: number;
  const handshakes: IncomingHttpHeaders[] = [];
  const paths: string[] = [];
  let running: RunningProxy;

  before(async () => {
    backend = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server: backend });
    wss.on('connection', (socket, req) => {
      handshakes.push(req.headers);
      paths.push(req.url ?? '');
      socket.on('message', (data: Buffer) => socket.send(`echo:${data.toString()}`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.2', resolve));
    backendPort = (backend.address() as AddressInfo).port;
    const state = new TestLiveState(
      manifests(
        serviceYaml('ws'),
        serviceYaml('empty'),
        sliceYaml('ws', [{ ip: '127.0.0.2', port: backendPort }]),
        sliceYaml('empty', [{ ip: '127.0.0.9', port: 1, ready: false }]),
        ingressYaml('sockets', 'ws.test', [
          { path: '/chat', service: 'ws' },
          { path: '/empty', service: 'empty' },
        ]),
        ingressYaml('limited-sockets', 'ws.test', [{ path: '/limited', service: 'ws' }], {
          'nginx.ingress.kubernetes.io/limit-connections': '1',
        }),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    for (const client of wss.clients) client.terminate();
    wss.close();
    backend.closeAllConnections();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
  });

  test('echo through the proxy, with forwarding headers on the handshake', async () => {
    const { socket } = await open(running.port, '/chat/room?x=1', 'ws.test');
    const reply = nextMessage(socket);
    socket.send('hello');
    assert.equal(await reply, 'echo:hello');
    const second = nextMessage(socket);
    socket.send('again');
    assert.equal(await second, 'echo:again');
    socket.close();
    await new Promise((resolve) => socket.once('close', resolve));
    const headers = handshakes.at(-1) ?? {};
    assert.equal(paths.at(-1), '/chat/room?x=1');
    assert.equal(headers.host, 'ws.test');
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.match(String(headers['x-request-id']), /^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = running.accessLogs().find((entry) => entry.upgrade === 'websocket' && entry.status === 101);
    assert.ok(line, 'the WebSocket gets an access-log line when it closes');
    assert.equal(line.upstreamAddress, `127.0.0.2:${backendPort}`);
  });

  test('no route: 404 on the socket; no endpoint: 503', async () => {
    await assert.rejects(open(running.port, '/chat', 'nowhere.test'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 404);
      assert.match(error.message, /PORTICO_ERR_NO_ROUTE/);
      assert.match(error.message, /request-id: /);
      return true;
    });
    await assert.rejects(open(running.port, '/empty', 'ws.test'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 503);
      assert.match(error.message, /PORTICO_ERR_NO_ENDPOINTS/);
      return true;
    });
  });

  test('many WebSockets at once, each echoing its own messages', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open(running.port, '/chat', 'ws.test')));
    const replies = await Promise.all(
      sockets.map(({ socket }, index) => {
        const reply = nextMessage(socket);
        socket.send(`m${index}`);
        return reply;
      }),
    );
    assert.deepEqual(
      replies,
      sockets.map((_socket, index) => `echo:m${index}`),
    );
    for (const { socket } of sockets) socket.close();
  });

  test('limit-connections: an open WebSocket holds its slot until it closes', async () => {
    const { socket } = await open(running.port, '/limited/a', 'ws.test');
    await assert.rejects(open(running.port, '/limited/b', 'ws.test'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 503);
      assert.match(error.message, /code: PORTICO_ERR_TOO_MANY_CONNECTIONS/);
      return true;
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await closed;
    // The slot is given back when Portico sees the client socket close, just after.
    let reopened: Opened | undefined;
    for (let tries = 0; tries < 50 && reopened === undefined; tries++) {
      reopened = await open(running.port, '/limited/c', 'ws.test').catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return undefined;
      });
    }
    assert.ok(reopened, 'a new WebSocket opens once the first has closed');
    reopened.socket.close();
  });
});
