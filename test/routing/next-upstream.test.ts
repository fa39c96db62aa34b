// proxy-next-upstream's grammar and the pure retry checks the proxy asks (the socket-level
// behaviour is in test/proxy/next-upstream.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseNextUpstream,
  parseRetryTimeoutSeconds,
  parseTries,
} from '../../src/compile/annotations/annotation-registry.ts';
import {
  DEFAULT_NEXT_UPSTREAM,
  mayRetryFailure,
  mayRetryStatus,
  type NextUpstreamPolicy,
  NO_RETRY_CONDITIONS,
  type RetryState,
} from '../../src/routing/next-upstream.ts';

const GET_UNSENT: RetryState = { attempts: 1, elapsedMs: 0, method: 'GET', requestSent: false };

function policy(raw: string, tries = 3, timeoutMs = 0): NextUpstreamPolicy {
  const parsed = parseNextUpstream(raw);
  assert.ok(parsed.ok, raw);
  return { on: parsed.value, tries, timeoutMs };
}

describe('proxy-next-upstream grammar', () => {
  test('nginx tokens, in any order and spacing', () => {
    const parsed = parseNextUpstream('  http_503 error\ttimeout http_502 non_idempotent invalid_header ');
    assert.deepEqual(parsed, {
      ok: true,
      value: {
        error: true,
        connectTimeout: true,
        exchangeTimeout: true,
        invalidHeader: true,
        statuses: [502, 503],
        nonIdempotent: true,
      },
    });
  });

  test('off alone turns every condition off', () => {
    assert.deepEqual(parseNextUpstream('off'), { ok: true, value: NO_RETRY_CONDITIONS });
  });

  for (const bad of ['', '   ', 'off error', 'http_418', 'HTTP_502', 'error,timeout', 'denied', 'http_5xx']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.equal(parseNextUpstream(bad).ok, false);
    });
  }

  test('tries: 0 to 100; timeout: whole seconds 0 to 3600, in ms', () => {
    assert.deepEqual(parseTries('0'), { ok: true, value: 0 });
    assert.deepEqual(parseTries('5'), { ok: true, value: 5 });
    for (const bad of ['-1', '101', '1.5', 'three', '']) assert.equal(parseTries(bad).ok, false, bad);
    assert.deepEqual(parseRetryTimeoutSeconds('0'), { ok: true, value: 0 });
    assert.deepEqual(parseRetryTimeoutSeconds('30'), { ok: true, value: 30_000 });
    for (const bad of ['-1', '3601', '1.5', '10s', '']) assert.equal(parseRetryTimeoutSeconds(bad).ok, false, bad);
  });
});

describe('retry checks', () => {
  test('the default: refused/reset and connect timeouts, not read timeouts or statuses', () => {
    assert.equal(mayRetryFailure(DEFAULT_NEXT_UPSTREAM, 'error', GET_UNSENT), true);
    assert.equal(mayRetryFailure(DEFAULT_NEXT_UPSTREAM, 'connect-timeout', GET_UNSENT), true);
    assert.equal(mayRetryFailure(DEFAULT_NEXT_UPSTREAM, 'exchange-timeout', GET_UNSENT), false);
    assert.equal(mayRetryFailure(DEFAULT_NEXT_UPSTREAM, 'invalid-header', GET_UNSENT), false);
    assert.equal(mayRetryFailure(DEFAULT_NEXT_UPSTREAM, undefined, GET_UNSENT), false);
    assert.equal(mayRetryStatus(DEFAULT_NEXT_UPSTREAM, 502, GET_UNSENT), false);
  });

  test('a sent non-idempotent request goes again only with non_idempotent', () => {
    const sentPost: RetryState = { ...GET_UNSENT, method: 'POST', requestSent: true };
    assert.equal(mayRetryFailure(policy('error'), 'error', sentPost), false);
    assert.equal(mayRetryFailure(policy('error'), 'error', { ...sentPost, requestSent: false }), true);
    assert.equal(mayRetryFailure(policy('error non_idempotent'), 'error', sentPost), true);
    assert.equal(mayRetryStatus(policy('http_503'), 503, { ...sentPost, requestSent: false }), false);
    assert.equal(mayRetryStatus(policy('http_503 non_idempotent'), 503, sentPost), true);
  });

  test('tries count every attempt; 0 leaves the limit to the endpoints', () => {
    const twice = policy('http_502', 2);
    assert.equal(mayRetryStatus(twice, 502, GET_UNSENT), true);
    assert.equal(mayRetryStatus(twice, 502, { ...GET_UNSENT, attempts: 2 }), false);
    assert.equal(mayRetryStatus(policy('http_502', 0), 502, { ...GET_UNSENT, attempts: 50 }), true);
    assert.equal(mayRetryStatus(twice, 503, GET_UNSENT), false);
  });

  test('no new attempt once the timeout has passed', () => {
    const bounded = policy('error', 0, 1_000);
    assert.equal(mayRetryFailure(bounded, 'error', { ...GET_UNSENT, elapsedMs: 999 }), true);
    assert.equal(mayRetryFailure(bounded, 'error', { ...GET_UNSENT, elapsedMs: 1_000 }), false);
  });

  test('off retries nothing', () => {
    const off = policy('off');
    for (const condition of ['error', 'connect-timeout', 'exchange-timeout', 'invalid-header'] as const)
      assert.equal(mayRetryFailure(off, condition, GET_UNSENT), false, condition);
  });
});
