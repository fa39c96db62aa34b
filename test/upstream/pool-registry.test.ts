// Pools per origin: made on first use, retired gracefully when their origin leaves every set.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Dispatcher } from 'undici';
import { createGuardedLookup } from '../../src/upstream/guarded-lookup.ts';
import type { Pool } from 'undici';
import {
  type CreateUpstreamPool,
  originOf,
  originOfKey,
  PoolRegistry,
  poolKeyOf,
} from '../../src/upstream/pool-registry.ts';
import { startBackend, type TestBackend } from '../support/test-backends.ts';

function get(pool: Pick<Dispatcher, 'dispatch'>, origin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    pool.dispatch(
      { origin, path: '/', method: 'GET' },
      {
        onRequestStart: () => {},
        onResponseStart: () => {},
        onResponseData: (_controller, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => resolve(Buffer.concat(chunks).toString()),
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
}

describe('PoolRegistry', () => {
  const held: ServerResponse[] = [];
  let backend: TestBackend;

  before(async () => {
    backend = await startBackend('held', '127.0.0.2', (_req, res) => {
      held.push(res);
    });
  });

  after(async () => {
    for (const res of held) res.destroy();
    await backend.close();
  });

  function registry(): PoolRegistry {
    return new PoolRegistry({
      connectTimeoutMs: 1_000,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
      keepAliveTimeoutMs: 1_000,
      connectionsPerOrigin: undefined,
      lookup: createGuardedLookup(),
    });
  }

  test('origins are formatted for IPv4, IPv6 and names', () => {
    assert.equal(originOf('10.0.0.1', 8080), 'http://10.0.0.1:8080');
    assert.equal(originOf('fd00::1', 8080), 'http://[fd00::1]:8080');
    assert.equal(originOf('svc.example', 80), 'http://svc.example:80');
  });

  test("a route's connect timeout is part of the pool key and of that pool's options", async () => {
    const tls = {
      verify: true,
      serverName: undefined,
      caPem: undefined,
      clientCertificate: undefined,
      profile: 'ab12',
    };
    assert.equal(
      poolKeyOf('10.0.0.1', 80, { kind: 'http1', connectTimeoutMs: 2_000 }),
      'http://10.0.0.1:80#connect=2000',
    );
    assert.equal(poolKeyOf('10.0.0.1', 80, { kind: 'h2c', connectTimeoutMs: 2_000 }), 'h2c://10.0.0.1:80#connect=2000');
    assert.equal(poolKeyOf('10.0.0.1', 443, { kind: 'https', tls }), 'https://10.0.0.1:443#ab12');
    assert.equal(
      poolKeyOf('10.0.0.1', 443, { kind: 'https', tls, connectTimeoutMs: 2_000 }),
      'https://10.0.0.1:443#ab12,connect=2000',
    );
    assert.equal(originOfKey('h2c://10.0.0.1:80#connect=2000'), 'http://10.0.0.1:80');
    const made: { origin: string; options: Pool.Options }[] = [];
    const create: CreateUpstreamPool = (origin, options) => {
      made.push({ origin, options });
      return { dispatch: () => true, close: async () => {}, destroy: async () => {} };
    };
    const pools = new PoolRegistry(
      {
        connectTimeoutMs: 5_000,
        headersTimeoutMs: 5_000,
        bodyTimeoutMs: 5_000,
        keepAliveTimeoutMs: 1_000,
        connectionsPerOrigin: undefined,
        lookup: createGuardedLookup(),
      },
      create,
    );
    pools.get('http://10.0.0.1:80', { kind: 'http1' });
    pools.get('http://10.0.0.1:80#connect=2000', { kind: 'http1', connectTimeoutMs: 2_000 });
    assert.deepEqual(
      made.map(({ origin, options }) => [origin, (options.connect as { timeout: number }).timeout]),
      [
        ['http://10.0.0.1:80', 5_000],
        ['http://10.0.0.1:80', 2_000],
      ],
    );
    await pools.close(100);
  });

  test('one pool per origin, made lazily', async () => {
    const pools = registry();
    assert.deepEqual(pools.origins(), []);
    const first = pools.get('http://127.0.0.2:1');
    assert.equal(pools.get('http://127.0.0.2:1'), first);
    assert.notEqual(pools.get('http://127.0.0.3:1'), first);
    assert.deepEqual(pools.origins().sort(), ['http://127.0.0.2:1', 'http://127.0.0.3:1']);
    await pools.close(100);
    assert.deepEqual(pools.origins(), []);
  });

  test('a retired pool lets its in-flight request finish', async () => {
    const pools = registry();
    const origin = originOf(backend.address, backend.port);
    const inFlight = get(pools.get(origin), origin);
    for (let round = 0; round < 100 && held.length === 0; round++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(pools.retain(new Set()), [origin]);
    assert.equal(pools.has(origin), false);
    held.shift()?.end('finished');
    assert.equal(await inFlight, 'finished');
    await pools.close(100);
  });
});
