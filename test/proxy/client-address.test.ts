// Who the client is, through the real proxy on real sockets. Without --trust-forwarded-from the
// socket's peer is the client (the rest of the suite covers that). With it, a trusted peer's
// X-Forwarded-For is read right to left past trusted hops; an untrusted peer cannot spoof; and
// with --proxy-protocol the PROXY v1/v2 header gives the client, a bad or missing header closes
// the connection. The client address drives source ranges, X-Real-IP / X-Forwarded-For upstream
// and the access log. Peers: 127.0.0.1 is trusted, 127.0.0.9 (via localAddress) is not.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseSourceRange, type SourceRange } from '../../src/routing/source-range.ts';
import { parseProxyHeader } from '../../src/proxy/proxy-protocol.ts';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, send, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';
import { type RunningTlsProxy, startTlsProxy } from '../tls/tls-harness.ts';

const HOST = 'client.test';
const NGINX = 'nginx.ingress.kubernetes.io/';
const TRUSTED: readonly SourceRange[] = ['127.0.0.1/32', '10.0.0.0/8'].map(
  (text) => parseSourceRange(text) as SourceRange,
);
const UNTRUSTED_PEER = '127.0.0.9';

interface Echo {
  readonly headers: Record<string, string>;
}

function v1(source: string, family = 'TCP4', destination = '10.0.0.5'): string {
  return `PROXY ${family} ${source} ${destination} 40000 80\r\n`;
}

function v2(command: 'PROXY' | 'LOCAL', source: readonly number[], family: 'v4' | 'v6'): Buffer {
  const addresses =
    family === 'v4'
      ? Buffer.from([...source, 10, 0, 0, 5, 0x9c, 0x40, 0x00, 0x50])
      : Buffer.concat([Buffer.from(source), Buffer.alloc(16), Buffer.from([0x9c, 0x40, 0x00, 0x50])]);
  return Buffer.concat([
    Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]),
    Buffer.from([command === 'PROXY' ? 0x21 : 0x20, family === 'v4' ? 0x11 : 0x21]),
    Buffer.from([addresses.length >> 8, addresses.length & 0xff]),
    addresses,
  ]);
}

const IPV6_2001_DB8_7 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

/**
 * Writes `preface` and a GET on a raw socket, in one write, or (an array) piece by piece, the
 * GET last, with a pause between writes so they arrive apart; resolves with the whole answer
 * ('' when closed unanswered).
 */
function rawExchange(
  port: number,
  preface: string | Buffer | readonly (string | Buffer)[],
  path = '/echo',
  localAddress?: string,
  requestText = `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
): Promise<string> {
  const request = Buffer.from(requestText);
  const pieces = Array.isArray(preface)
    ? [...(preface as readonly (string | Buffer)[]).map((piece) => Buffer.from(piece)), request]
    : [Buffer.concat([Buffer.from(preface as string | Buffer), request])];
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => {
      socket.setNoDelay(true);
      const writeNext = (index: number): void => {
        const piece = pieces[index];
        if (piece === undefined || socket.destroyed) return;
        socket.write(piece);
        setTimeout(() => writeNext(index + 1), 30);
      };
      writeNext(0);
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(text) : reject(error)));
  });
}

function echoOf(answer: string): Echo {
  assert.match(answer, /^HTTP\/1\.1 200 /, answer.slice(0, 200));
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Echo;
}

function world(backend: TestBackend): TestLiveState {
  return new TestLiveState(
    manifests(
      serviceYaml('app'),
      sliceYaml('app', [{ ip: backend.address, port: backend.port }]),
      ingressYaml('echo', HOST, [{ path: '/echo', service: 'app' }]),
      ingressYaml('allow', HOST, [{ path: '/allow', service: 'app' }], {
        [`${NGINX}allowlist-source-range`]: '203.0.113.0/24, 2001:db8::/32',
      }),
    ),
  );
}

describe('PROXY header parsing', () => {
  const cases: { name: string; data: Buffer | string; expect: ReturnType<typeof parseProxyHeader> }[] = [
    {
      name: 'v1 TCP4',
      data: v1('203.0.113.7'),
      expect: { kind: 'ok', length: v1('203.0.113.7').length, source: '203.0.113.7' },
    },
    {
      name: 'v1 TCP6',
      data: v1('2001:db8::7', 'TCP6', '2001:db8::1'),
      expect: { kind: 'ok', length: v1('2001:db8::7', 'TCP6', '2001:db8::1').length, source: '2001:db8::7' },
    },
    { name: 'v1 UNKNOWN', data: 'PROXY UNKNOWN\r\n', expect: { kind: 'ok', length: 15, source: undefined } },
    { name: 'v1 cut short', data: 'PROXY TCP4 203.0.1', expect: { kind: 'incomplete' } },
    {
      name: 'v2 IPv4',
      data: v2('PROXY', [203, 0, 113, 7], 'v4'),
      expect: { kind: 'ok', length: 28, source: '203.0.113.7' },
    },
    {
      name: 'v2 IPv6',
      data: v2('PROXY', IPV6_2001_DB8_7, 'v6'),
      expect: { kind: 'ok', length: 52, source: '2001:db8:0:0:0:0:0:7' },
    },
    {
      name: 'v2 LOCAL',
      data: v2('LOCAL', [203, 0, 113, 7], 'v4'),
      expect: { kind: 'ok', length: 28, source: undefined },
    },
    { name: 'v2 cut short', data: v2('PROXY', [203, 0, 113, 7], 'v4').subarray(0, 20), expect: { kind: 'incomplete' } },
  ];
  for (const { name, data, expect } of cases) {
    it(name, () => assert.deepEqual(parseProxyHeader(Buffer.from(data)), expect));
  }
  for (const [name, data] of [
    ['plain HTTP', 'GET / HTTP/1.1\r\n'],
    ['v1 with a bad address', v1('203.0.113.300')],
    ['v1 with a family mismatch', v1('2001:db8::7')],
    ['v1 with a bad port', 'PROXY TCP4 203.0.113.7 10.0.0.5 99999 80\r\n'],
    ['v1 without its line end', `PROXY TCP4 ${'1'.repeat(120)}`],
    [
      'v2 with version 3',
      Buffer.concat([v2('PROXY', [1, 2, 3, 4], 'v4').subarray(0, 12), Buffer.from([0x31, 0x11, 0, 12])]),
    ],
  ] as const) {
    it(`refuses ${name}`, () => assert.equal(parseProxyHeader(Buffer.from(data)).kind, 'invalid'));
  }
});

describe('--trust-forwarded-from with X-Forwarded-For', () => {
  let backend: TestBackend;
  let running: RunningProxy;

  before(async () => {
    backend = await startBackend('app', '127.0.0.2');
    running = await startProxy(world(backend), { clientAddress: { trusted: TRUSTED, proxyProtocol: false } });
  });
  after(async () => {
    await running.close();
    await backend.close();
  });

  it('a trusted peer: the rightmost untrusted hop is the client, everywhere it is used', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.1.2.3' };
    const echo = JSON.parse((await send(running.port, { host: HOST, path: '/echo', headers })).body) as Echo;
    assert.equal(echo.headers['x-real-ip'], '203.0.113.7');
    assert.equal(echo.headers['x-forwarded-for'], '198.51.100.1, 203.0.113.7, 10.1.2.3, 127.0.0.1');
    assert.equal((await send(running.port, { host: HOST, path: '/allow', headers })).status, 200);
    assert.equal(running.accessLogs().at(-1)?.clientIp, '203.0.113.7');
  });

  it('a client behind a trusted peer cannot spoof by prepending', async () => {
    // 198.51.100.9 is who the trusted peer saw; what the client wrote before it is not believed.
    const headers = { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' };
    assert.equal((await send(running.port, { host: HOST, path: '/allow', headers })).status, 403);
    assert.equal(running.accessLogs().at(-1)?.clientIp, '198.51.100.9');
  });

  it('an untrusted peer is the client, and its X-Forwarded-For is not passed on', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7' };
    const allow = await send(running.port, { host: HOST, path: '/allow', headers, localAddress: UNTRUSTED_PEER });
    assert.equal(allow.status, 403);
    const echo = JSON.parse(
      (await send(running.port, { host: HOST, path: '/echo', headers, localAddress: UNTRUSTED_PEER })).body,
    ) as Echo;
    assert.equal(echo.headers['x-real-ip'], UNTRUSTED_PEER);
    assert.equal(echo.headers['x-forwarded-for'], UNTRUSTED_PEER);
  });

  it('a hop that is not an address stops the walk at the last trusted one', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7, garbage, 10.1.2.3' };
    const echo = JSON.parse((await send(running.port, { host: HOST, path: '/echo', headers })).body) as Echo;
    assert.equal(echo.headers['x-real-ip'], '10.1.2.3');
  });
});

describe('--proxy-protocol', () => {
  let backend: TestBackend;
  let running: RunningTlsProxy;

  before(async () => {
    backend = await startBackend('app', '127.0.0.2');
    running = await startTlsProxy(world(backend), { clientAddress: { trusted: TRUSTED, proxyProtocol: true } });
  });
  after(async () => {
    await running.close();
    await backend.close();
  });

  it('v1 and v2 (IPv4 and IPv6) from a trusted peer give the client, also for source ranges', async () => {
    assert.equal(echoOf(await rawExchange(running.httpPort, v1('203.0.113.7'))).headers['x-real-ip'], '203.0.113.7');
    const v2Echo = echoOf(await rawExchange(running.httpPort, v2('PROXY', [203, 0, 113, 8], 'v4')));
    assert.equal(v2Echo.headers['x-real-ip'], '203.0.113.8');
    assert.equal(v2Echo.headers['x-forwarded-for'], '203.0.113.8');
    assert.match(await rawExchange(running.httpPort, v2('PROXY', IPV6_2001_DB8_7, 'v6'), '/allow'), /^HTTP\/1\.1 200 /);
    assert.match(await rawExchange(running.httpPort, v1('198.51.100.1'), '/allow'), /^HTTP\/1\.1 403 /);
    // LOCAL (a balancer's health check): the socket's address stands.
    assert.equal(
      echoOf(await rawExchange(running.httpPort, v2('LOCAL', [203, 0, 113, 7], 'v4'))).headers['x-real-ip'],
      '127.0.0.1',
    );
  });

  it('a header that arrives in pieces, or before the request on its own, works the same', async () => {
    const header = v1('203.0.113.7');
    const split = echoOf(await rawExchange(running.httpPort, [header.slice(0, 9), header.slice(9)]));
    assert.equal(split.headers['x-real-ip'], '203.0.113.7');
    const binary = v2('PROXY', [203, 0, 113, 9], 'v4');
    const alone = echoOf(await rawExchange(running.httpPort, [binary.subarray(0, 14), binary.subarray(14)]));
    assert.equal(alone.headers['x-real-ip'], '203.0.113.9');
  });

  it('requests Node refuses (400) or Portico refuses before routing (CONNECT, 405) log the PROXY client', async () => {
    const malformed = `GET /echo HTTP/1.1\r\nHost: ${HOST}\r\nNo colon here\r\n\r\n`;
    assert.match(await rawExchange(running.httpPort, v1('203.0.113.21'), '', undefined, malformed), /^HTTP\/1\.1 400 /);
    const connectRequest = `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`;
    assert.match(
      await rawExchange(running.httpPort, v1('203.0.113.22'), '', undefined, connectRequest),
      /^HTTP\/1\.1 405 /,
    );
    const byStatus = (status: number) =>
      running
        .accessLogs()
        .filter((line) => line.status === status)
        .at(-1);
    assert.equal(byStatus(400)?.clientIp, '203.0.113.21');
    assert.equal(byStatus(405)?.clientIp, '203.0.113.22');
  });

  it('a header from an untrusted peer is read, but its address is not believed', async () => {
    const echo = echoOf(await rawExchange(running.httpPort, v1('203.0.113.7'), '/echo', UNTRUSTED_PEER));
    assert.equal(echo.headers['x-real-ip'], UNTRUSTED_PEER);
  });

  it('a malformed or missing header closes the connection, with a log line', async () => {
    assert.equal(await rawExchange(running.httpPort, 'PROXY TCP4 nonsense\r\n'), '');
    assert.equal(await rawExchange(running.httpPort, ''), '');
    const refusals = running.logs.filter((line) => line.msg === 'PROXY protocol header refused; connection closed');
    assert.deepEqual(
      refusals.slice(-2).map((line) => line.reason),
      ['malformed PROXY v1 header', 'the connection does not start with a PROXY protocol header'],
    );
  });

  it('HTTPS: the header comes before the TLS handshake', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const raw = connect({ port: running.httpsPort, host: '127.0.0.1' }, () => {
        raw.write(v1('203.0.113.7'));
        const socket = tlsConnect(
          { socket: raw, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] },
          () => {
            socket.write(`GET /echo HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
          },
        );
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      raw.on('error', reject);
    });
    assert.equal(echoOf(answer).headers['x-real-ip'], '203.0.113.7');
  });
});

describe('--trust-forwarded-from and ClientIP affinity', () => {
  const backends: TestBackend[] = [];
  let running: RunningProxy;

  before(async () => {
    for (const [index, address] of ['127.0.0.5', '127.0.0.6'].entries()) {
      backends.push(await startBackend(`sticky-${index}`, address, (_req, res) => res.end(`sticky-${index}`)));
    }
    const state = new TestLiveState(
      manifests(
        serviceYaml('sticky', { sessionAffinity: 'ClientIP' }),
        ...backends.map((backend, index) =>
          sliceYaml('sticky', [{ ip: backend.address, port: backend.port }], `sticky-${index}`),
        ),
        ingressYaml('sticky', HOST, [{ path: '/sticky', service: 'sticky' }]),
      ),
    );
    running = await startProxy(state, { clientAddress: { trusted: TRUSTED, proxyProtocol: false } });
  });
  after(async () => {
    await running?.close();
    for (const backend of backends) await backend.close();
  });

  it('keeps each forwarded client on one endpoint, though all come through one peer', async () => {
    const chosen = new Map<string, Set<string>>();
    // Endpoint ids carry the backends' random ports, so the spread differs per run: with 24
    // clients, all landing on one of two endpoints has odds of 2^-23.
    const clients = Array.from({ length: 24 }, (_, index) => `203.0.113.${index + 1}`);
    for (let round = 0; round < 2; round++) {
      for (const client of clients) {
        const { body } = await send(running.port, {
          host: HOST,
          path: '/sticky',
          headers: { 'x-forwarded-for': client },
        });
        chosen.set(client, (chosen.get(client) ?? new Set<string>()).add(body));
      }
    }
    for (const [client, seen] of chosen) assert.equal(seen.size, 1, `${client} moved between ${[...seen]}`);
    const used = new Set([...chosen.values()].flatMap((seen) => [...seen]));
    assert.equal(used.size, 2, 'the clients spread over both endpoints: the peer address alone would pin them to one');
  });
});
