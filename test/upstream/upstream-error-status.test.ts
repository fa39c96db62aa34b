// Every way an upstream attempt can fail maps to one stable code, status and retry class.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errors } from 'undici';
import { classifyUpstreamError, UpstreamError } from '../../src/upstream/upstream-error-status.ts';

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('classifyUpstreamError', () => {
  const rows: [unknown, string, number, 'connect' | 'exchange', boolean][] = [
    [withCode('ECONNREFUSED'), 'PORTICO_ERR_UPSTREAM_REFUSED', 502, 'connect', true],
    [withCode('EHOSTUNREACH'), 'PORTICO_ERR_UPSTREAM_UNREACHABLE', 502, 'connect', true],
    [new errors.ConnectTimeoutError(), 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT', 504, 'connect', true],
    [withCode('ENOTFOUND'), 'PORTICO_ERR_UPSTREAM_DNS', 502, 'connect', false],
    [new errors.ClientClosedError(), 'PORTICO_ERR_UPSTREAM_CLOSED', 503, 'connect', true],
    [new errors.ClientDestroyedError(), 'PORTICO_ERR_UPSTREAM_CLOSED', 503, 'connect', true],
    [withCode('ECONNRESET'), 'PORTICO_ERR_UPSTREAM_RESET', 502, 'exchange', true],
    [new errors.SocketError('other side closed'), 'PORTICO_ERR_UPSTREAM_RESET', 502, 'exchange', true],
    [new errors.HeadersTimeoutError(), 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT', 504, 'exchange', false],
    [new errors.BodyTimeoutError(), 'PORTICO_ERR_UPSTREAM_READ_TIMEOUT', 504, 'exchange', false],
    [withCode('HPE_INVALID_CONSTANT'), 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE', 502, 'exchange', false],
    [new errors.HeadersOverflowError(), 'PORTICO_ERR_UPSTREAM_BAD_RESPONSE', 502, 'exchange', false],
    [new errors.RequestAbortedError(), 'PORTICO_ERR_CLIENT_ABORTED', 499, 'exchange', false],
    [
      new UpstreamError('PORTICO_ERR_UPSTREAM_SEND_TIMEOUT', 'stalled'),
      'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT',
      504,
      'exchange',
      false,
    ],
    [
      new UpstreamError('PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN', 'loopback'),
      'PORTICO_ERR_UPSTREAM_ADDRESS_FORBIDDEN',
      502,
      'connect',
      false,
    ],
    [new Error('no code at all'), 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', false],
    ['not even an error', 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', false],
    [withCode('EWHATEVER'), 'PORTICO_ERR_UPSTREAM_FAILED', 502, 'exchange', false],
  ];
  for (const [error, code, status, phase, retryable] of rows) {
    test(`${code} from ${error instanceof Error ? `${error.name} ${(error as { code?: string }).code ?? ''}` : String(error)}`, () => {
      const failure = classifyUpstreamError(error);
      assert.equal(failure.code, code);
      assert.equal(failure.status, status);
      assert.equal(failure.phase, phase);
      assert.equal(failure.retryable, retryable);
    });
  }

  test('looks through happy-eyeballs AggregateErrors and cause chains', () => {
    const aggregate = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'all failed');
    assert.equal(classifyUpstreamError(aggregate).code, 'PORTICO_ERR_UPSTREAM_REFUSED');
    const wrapped = new Error('wrapped', { cause: withCode('ETIMEDOUT') });
    assert.equal(classifyUpstreamError(wrapped).code, 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT');
  });
});
