// Every way an upstream attempt can fail maps to one stable code, status and proxy-next-upstream condition.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errors } from 'undici';
import type { RetryCondition } from '../../src/routing/next-upstream.ts';
import { classifyUpstreamError, UpstreamError } from '../../src/upstream/upstream-error-status.ts';

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('classifyUpstreamError', () => {
  const rows: [unknown, string, number, 'connect' | 'exchange', RetryCondition | undefined][] = [
    [withCode('ECONNREFUSED'), 'PORTICO_ERR_UPSTREAM_REFUSED', 502, 'connect', 'error'],
    [withCode('EHOSTUNREACH'), 'PORTICO_ERR_UPSTREAM_UNREACHABLE', 502, 'connect', 'error'],
    [new errors.ConnectTimeoutError(), 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT', 504, 'connect', 'connect-timeout'],
    [withCode('ENOTFOUND'), 'PORTICO_ERR_UPSTREAM_DNS', 502, 'connect', undefined],
    [new errors.ClientClosedError(), 'PORTICO_ERR_UPSTREAM_CLOSED', 503, 'connect', 'error'],
    [new errors.ClientDestroyedError(), 'PORTICO_ERR_UPSTREAM_CLOSED', 503, 'connect', 'error'],
    [withCode('ECONNRESET'), 'PORTICO_ERR_UPSTREAM_RESET', 502, 'exchange', 'error'],
    [new errors.SocketError('other side closed'), 'PORTICO_ERR_UPSTREAM_RESET', 502, 'exchange', 'error'],
    [new errors.HeadersTimeoutError(), 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT', 504, 'exchange', 'exchange-timeout'],
    [new errors.BodyTimeoutError(), 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT', 504, 'exchange', 'exchange-timeout'],
    [withCode('HPE_INVALID_CONSTANT'), 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE', 502, 'exchange', 'invalid-header'],
    [new errors.HeadersOverflowError(), 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE', 502, 'exchange', 'invalid-header'],
    [new errors.RequestAbortedError(), 'PORTICO_ERR_CLIENT_ABORTED', 499, 'exchange', undefined],
    [
      new UpstreamError('PORTICO_ERR_UPSTREAM_SEND_TIMEOUT', 'stalled'),
      'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT',
      504,
      'exchange',
      'exchange-timeout',
    ],
    [
      new UpstreamError('PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN', 'loopback'),
      'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN',
      502,
      'connect',
      undefined,
    ],
    [new Error('no code at all'), 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', undefined],
    ['not even an error', 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', undefined],
    [withCode('EWHATEVER'), 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', undefined],
  ];
  for (const [error, code, status, phase, retryOn] of rows) {
    test(`${code} from ${error instanceof Error ? `${error.name} ${(error as { code?: string }).code ?? ''}` : String(error)}`, () => {
      const failure = classifyUpstreamError(error);
      assert.equal(failure.code, code);
      assert.equal(failure.status, status);
      assert.equal(failure.phase, phase);
      assert.equal(failure.retryOn, retryOn);
    });
  }

  test('looks through happy-eyeballs AggregateErrors and cause chains', () => {
    const aggregate = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'all failed');
    assert.equal(classifyUpstreamError(aggregate).code, 'PORTICO_ERR_UPSTREAM_REFUSED');
    const wrapped = new Error('wrapped', { cause: withCode('ETIMEDOUT') });
    assert.equal(classifyUpstreamError(wrapped).code, 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT');
  });
});
