// Bodies stream both ways with backpressure and are never buffered whole: 256 MiB each way
// through the proxy with bounded memory growth, and a client that stops reading stops the backend.
// Client, proxy and backends share this process; the growth allowance covers GC lag on their
// socket buffers (about 90 MiB measured, whatever the transfer size), not the body.

import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ingressYaml, manifests, serviceYaml, sliceYaml } from '../support/cluster-manifests.ts';
import { type RunningProxy, startProxy } from '../support/proxy-harness.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';
import { TestLiveState } from '../support/test-live-state.ts';

const MiB = 1024 * 1024;
const TRANSFER_BYTES = 256 * MiB;
const CHUNK = Buffer.alloc(64 * 1024, 'z');
/** A body buffered whole anywhere on the path would exceed this. */
const MAX_RSS_GROWTH = 160 * MiB;

/** Writes `total` bytes to `write`, waiting for drain whenever it says so. */
function produce(
  total: number,
  write: (chunk: Buffer) => boolean,
  onDrain: (resume: () => void) => void,
): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const chunk = total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent);
        sent += chunk.length;
        if (!write(chunk)) {
          onDrain(pump);
          return;
        }
      }
      resolve();
    };
    pump();
  });
}

/** Samples RSS while `work` runs; returns the largest growth over the starting value. */
async function peakRssGrowth(work: () => Promise<void>): Promise<number> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage.rss()) - start;
}

describe('streaming', () => {
  let sink: TestBackend;
  let source: TestBackend;
  let slowSourceWritten = 0;
  let slowSourceDone = false;
  let running: RunningProxy;

  before(async () => {
    sink = await startBackend('sink', '127.0.0.2', (req, res) => {
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      req.on('end', () => res.end(String(received)));
    });
    source = await startBackend('source', '127.0.0.3', (req, res) => {
      const total = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes'));
      const counting = req.url?.startsWith('/source/slow') ?? false;
      res.writeHead(200, { 'content-length': String(total) });
      produce(
        total,
        (chunk) => {
          if (counting) slowSourceWritten += chunk.length;
          return res.write(chunk);
        },
        (resume) => res.once('drain', resume),
      ).then(() => {
        if (counting) slowSourceDone = true;
        res.end();
      });
    });
    const state = new TestLiveState(
      manifests(
        serviceYaml('sink'),
        serviceYaml('source'),
        sliceYaml('sink', [{ ip: sink.address, port: sink.port }]),
        sliceYaml('source', [{ ip: source.address, port: source.port }]),
        ingressYaml('example', 'app.test', [
          { path: '/sink', service: 'sink' },
          { path: '/source', service: 'source' },
        ]),
      ),
    );
    running = await startProxy(state);
  });

  after(async () => {
    await running.close();
    await sink.close();
    await source.close();
  });

  /** Uploads TRANSFER_BYTES with the given framing; resolves with the sink's byte count. */
  function upload(method: string, path: string, framing: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: running.port,
          method,
          path,
          headers: { host: 'app.test', ...framing },
          agent: false,
        },
        (res) => {
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (text: string) => {
            answer += text;
          });
          res.on('end', () => resolve(answer));
        },
      );
      req.on('error', reject);
      if (framing['transfer-encoding'] === 'chunked') {
        Readable.from(
          (function* () {
            for (let sent = 0; sent < TRANSFER_BYTES; sent += CHUNK.length) yield CHUNK;
          })(),
        ).pipe(req);
      } else {
        produce(
          TRANSFER_BYTES,
          (chunk) => req.write(chunk),
          (resume) => req.once('drain', resume),
        ).then(() => req.end());
      }
    });
  }

  test('a 256 MiB upload streams through with bounded memory', async () => {
    let answer = '';
    const growth = await peakRssGrowth(async () => {
      answer = await upload('POST', '/sink', { 'content-length': String(TRANSFER_BYTES) });
    });
    assert.equal(answer, String(TRANSFER_BYTES));
    assert.ok(growth < MAX_RSS_GROWTH, `RSS grew by ${Math.round(growth / MiB)} MiB`);
    const line = running.accessLogs().find((entry) => entry.path === '/sink');
    assert.equal(line?.bytesIn, TRANSFER_BYTES);
  });

  test('a 256 MiB chunked upload streams through too', async () => {
    assert.equal(await upload('PUT', '/sink/chunked', { 'transfer-encoding': 'chunked' }), String(TRANSFER_BYTES));
  });

  test('a 256 MiB download streams through with bounded memory', async () => {
    let received = 0;
    const growth = await peakRssGrowth(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port: running.port,
              path: `/source?bytes=${TRANSFER_BYTES}`,
              headers: { host: 'app.test' },
              agent: false,
            },
            (res) => {
              res.on('data', (chunk: Buffer) => {
                received += chunk.length;
              });
              res.on('end', resolve);
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end();
        }),
    );
    assert.equal(received, TRANSFER_BYTES);
    assert.ok(growth < MAX_RSS_GROWTH, `RSS grew by ${Math.round(growth / MiB)} MiB`);
  });

  test('a client that stops reading stops the backend (backpressure)', async () => {
    const total = 128 * MiB;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: running.port,
          path: `/source/slow?bytes=${total}`,
          headers: { host: 'app.test' },
          agent: false,
        },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    response.pause();
    // Wait (bounded) until the backend's writes stall: its count stops moving.
    let previous = -1;
    for (let round = 0; round < 50 && slowSourceWritten !== previous; round++) {
      previous = slowSourceWritten;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(slowSourceDone, false);
    assert.ok(
      slowSourceWritten < 48 * MiB,
      `backend wrote ${Math.round(slowSourceWritten / MiB)} MiB ahead of the client`,
    );
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      response.on('end', resolve);
      response.on('error', reject);
      response.resume();
    });
    assert.equal(received, total);
  });
});
