// Header rules as data: what goes upstream and what comes back (RFC 9110 section 7.6.1).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientResponseHeaders, connectionTokens, upstreamRequestHeaders } from '../../src/proxy/forward-headers.ts';

const FACTS = {
  clientIp: '192.0.2.1',
  scheme: 'http' as const,
  localPort: 8080,
  requestId: 'rid',
  routeHeaders: {},
};

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let index = 0; index < flat.length; index += 2) out.push([flat[index] as string, flat[index + 1] as string]);
  return out;
}

describe('connectionTokens', () => {
  test('keep-alive and close name nothing else; other tokens are lower-cased', () => {
    assert.equal(connectionTokens(undefined), undefined);
    assert.equal(connectionTokens('keep-alive'), undefined);
    assert.equal(connectionTokens('Close'), undefined);
    assert.deepEqual([...(connectionTokens('keep-alive, X-Foo ,x-bar') ?? [])], ['keep-alive', 'x-foo', 'x-bar']);
  });
});

describe('upstreamRequestHeaders', () => {
  test('drops hop-by-hop and Connection-named fields, sets the forwarding set', () => {
    const headers = upstreamRequestHeaders(
      {
        host: 'app.test:8080',
        connection: 'x-secret',
        'x-secret': '1',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        expect: '100-continue',
        accept: 'text/html',
        'x-forwarded-for': '203.0.113.1, 203.0.113.2',
        'x-forwarded-host': 'spoofed',
      },
      FACTS,
    );
    assert.deepEqual(pairs(headers), [
      ['accept', 'text/html'],
      ['host', 'app.test:8080'],
      ['x-forwarded-for', '203.0.113.1, 203.0.113.2, 192.0.2.1'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'app.test:8080'],
      ['x-forwarded-port', '8080'],
      ['x-real-ip', '192.0.2.1'],
      ['x-request-id', 'rid'],
    ]);
  });

  test('route headers override: upstream-vhost replaces Host, X-Forwarded-Prefix is added', () => {
    const headers = upstreamRequestHeaders(
      { host: 'app.test', 'x-forwarded-prefix': '/client-said' },
      { ...FACTS, routeHeaders: { host: 'internal.svc', 'x-forwarded-prefix': '/api' } },
    );
    const map = new Map(pairs(headers));
    assert.equal(map.get('host'), 'internal.svc');
    assert.equal(map.get('x-forwarded-host'), 'app.test');
    assert.equal(map.get('x-forwarded-prefix'), '/api');
    assert.equal(headers.filter((name) => name === 'x-forwarded-prefix').length, 1);
  });
});

describe('clientResponseHeaders', () => {
  test('keeps case, order and duplicates; drops hop-by-hop and Connection-named fields', () => {
    const raw = [
      'Content-Type',
      'text/plain',
      'Connection',
      'keep-alive, X-Internal',
      'X-Internal',
      'x',
      'Set-Cookie',
      'a=1',
      'Transfer-Encoding',
      'chunked',
      'Set-Cookie',
      'b=2',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Authenticate',
      'Basic',
    ].map((text) => Buffer.from(text, 'latin1'));
    assert.deepEqual(clientResponseHeaders(raw), [
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ]);
  });

  test("drops a field that Connection names after it, and lets the listener's own fields replace the upstream's", () => {
    const raw = [
      'X-Hop',
      'early',
      'Strict-Transport-Security',
      'max-age=1',
      'Server',
      'nginx',
      'connection',
      'X-Hop',
      'Connection',
      'Server',
    ].map((text) => Buffer.from(text, 'latin1'));
    assert.deepEqual(clientResponseHeaders(raw, ['strict-transport-security', 'max-age=31536000']), [
      'Server',
      'nginx',
      'strict-transport-security',
      'max-age=31536000',
    ]);
    assert.deepEqual(clientResponseHeaders(['Server', 'nginx', 'Connection', 'keep-alive']), ['Server', 'nginx']);
  });
});
