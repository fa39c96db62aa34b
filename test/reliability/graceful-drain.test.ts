// Graceful drain of the real `serve` process (README "Graceful shutdown"):
// - SIGTERM: /readyz answers 503 at once, while the proxy keeps serving new requests and open
//   WebSockets for the grace period (here long, and ended by a second SIGTERM, so nothing
//   depends on timing);
// - then the listener refuses new connections, each open WebSocket gets a close frame with
//   code 1001 Going Away on both sides (client and backend), a slow request in flight still
//   gets its whole response, and the process exits 0;
// - --shutdown-timeout bounds a request that hangs: it is cut and the process still exits 0.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { startBackend } from '../support/test-backends.ts';
import { waitFor } from '../standalone/wait-for.ts';
import { connectionRefused, makeAppManifestDir, type ServeProcess, startServe } from './serve-process.ts';

const HOLD_PATH = '/hold';

/** A backend that answers at once, except HOLD_PATH, which waits until released; WebSockets echo. */
async function startHoldingBackend(address: string) {
  const held: (() => void)[] = [];
  const backend = await startBackend('web', address, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (req.url !== HOLD_PATH) {
      res.end('quick\n');
      return;
    }
    res.write('first half, ');
    held.push(() => res.end('second half\n'));
  });
  const backendCloseCodes: number[] = [];
  const wss = new WebSocketServer({ server: backend.server });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => socket.send(data.toString()));
    socket.on('close', (code) => backendCloseCodes.push(code));
  });
  return { backend, held, backendCloseCodes, wss };
}

interface App {
  readonly serve: ServeProcess;
  readonly held: (() => void)[];
  readonly backendCloseCodes: number[];
}

/** The holding backend behind app.test, a `serve` process with `serveArgs`, and the clean-up. */
async function withApp(address: string, serveArgs: readonly string[], body: (app: App) => Promise<void>) {
  const { backend, held, backendCloseCodes, wss } = await startHoldingBackend(address);
  const dir = await makeAppManifestDir('drain', backend);
  const serve = await startServe(dir.path, serveArgs);
  try {
    await body({ serve, held, backendCloseCodes });
  } finally {
    for (const release of held) release();
    serve.run.child.kill('SIGKILL');
    wss.close();
    await backend.close();
    await dir.remove();
  }
}

function openWebSocket(port: number): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'app.test' } });
    const closed = new Promise<number>((resolveClose) => socket.once('close', (code) => resolveClose(code)));
    socket.once('open', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('message', (data) => resolve(data.toString()));
    socket.send(text);
  });
}

test('SIGTERM: readyz 503 while still serving, then refuse, WebSockets 1001, in-flight finishes, exit 0', (t) =>
  // Long grace period, ended by the second SIGTERM below (README: a second signal shortens it).
  withApp('127.0.0.97', ['--shutdown-grace-period', '60s', '--shutdown-timeout', '20s'], async (app) => {
    const { serve, held, backendCloseCodes } = app;
    const ws = await openWebSocket(serve.proxyPort);
    assert.equal(await echo(ws.socket, 'before'), 'before');
    const inFlight = request(`${serve.proxyOrigin}${HOLD_PATH}`, { headers: { host: 'app.test' } });
    await waitFor('the backend to hold the request', () => held.length === 1);

    serve.run.signal('SIGTERM');
    await waitFor('/readyz to answer 503', async () => (await fetch(`${serve.adminOrigin}/readyz`)).status === 503);
    // The grace period: a new connection is still served, the WebSocket still relays.
    const during = await request(`${serve.proxyOrigin}/new`, { headers: { host: 'app.test', connection: 'close' } });
    assert.equal(during.statusCode, 200);
    assert.equal(await during.body.text(), 'quick\n');
    assert.equal(await echo(ws.socket, 'during grace'), 'during grace');

    serve.run.signal('SIGTERM');
    await waitFor('the proxy to refuse new connections', () => connectionRefused(serve.proxyPort));
    const clientCode = await ws.closed;
    await waitFor('the backend to see the WebSocket close', () => backendCloseCodes.length === 1);
    held.shift()?.();
    const response = await inFlight;
    assert.equal(response.statusCode, 200);
    assert.equal(await response.body.text(), 'first half, second half\n');
    const exitCode = await serve.run.exited();
    t.diagnostic(
      `WebSocket close code: client ${clientCode}, backend ${backendCloseCodes.join(',')}; exit ${exitCode}`,
    );
    assert.equal(clientCode, 1001, 'the client got 1001 Going Away');
    assert.deepEqual(backendCloseCodes, [1001], 'the backend got 1001 Going Away');
    assert.equal(exitCode, 0);
    assert.ok(
      serve.run.logs().some((line) => line.msg === 'second signal while draining; closing the listeners now'),
      'the second SIGTERM ended the grace period',
    );
  }));

test('SIGTERM: --shutdown-timeout cuts a request that hangs, and the process still exits 0', () =>
  withApp('127.0.0.98', ['--shutdown-grace-period', '1s', '--shutdown-timeout', '1s'], async ({ serve, held }) => {
    const hanging = request(`${serve.proxyOrigin}${HOLD_PATH}`, { headers: { host: 'app.test' } }).then((response) =>
      response.body.text(),
    );
    await waitFor('the backend to hold the request', () => held.length === 1);
    serve.run.signal('SIGTERM');
    // Never released: only the shutdown timeout can end it.
    await assert.rejects(hanging, 'the hanging response was cut');
    assert.equal(await serve.run.exited(), 0);
  }));
