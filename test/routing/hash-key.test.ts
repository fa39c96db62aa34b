// upstream-hash-by templates: which nginx variables parse, and what a request evaluates to.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateHashKey, type HashKeyTemplate, parseHashKeyTemplate } from '../../src/routing/hash-key.ts';

function parsed(raw: string): HashKeyTemplate {
  const result = parseHashKeyTemplate(raw);
  assert.ok(result.ok, `${raw}: ${result.ok ? '' : result.reason}`);
  return result.template;
}

const facts = {
  clientIp: '192.0.2.7',
  requestUri: '/cart?item=3',
  header: (name: string): string | undefined =>
    ({ 'x-user': 'alice', cookie: 'theme=dark; sid=s-42', host: 'shop.test' })[name],
};

describe('upstream-hash-by templates', () => {
  const cases: [string, string][] = [
    ['$remote_addr', '192.0.2.7'],
    ['$request_uri', '/cart?item=3'],
    ['$http_x_user', 'alice'],
    ['$http_X_User', 'alice'],
    ['$cookie_sid', 's-42'],
    ['$request_uri$http_x_user', '/cart?item=3alice'],
    ['user-${cookie_sid}-v1', 'user-s-42-v1'],
    ['$http_x_missing', ''],
    ['$cookie_missing|$remote_addr', '|192.0.2.7'],
  ];
  for (const [raw, key] of cases) {
    test(`${raw} evaluates to ${JSON.stringify(key)}`, () => {
      assert.equal(evaluateHashKey(parsed(raw), facts), key);
    });
  }

  const refused: [string, RegExp][] = [
    ['$host', /\$host, which Portico does not evaluate/],
    ['$request_uri$arg_id', /\$arg_id/],
    ['$binary_remote_addr', /\$binary_remote_addr/],
    ['$http_', /\$http_/],
    ['constant', /no variable/],
    ['', /1-256 characters/],
    ['$remote_addr $request_uri', /printable ASCII without spaces/],
    ['${remote_addr', /printable ASCII without spaces or \$/],
    ['a'.repeat(300), /1-256 characters/],
  ];
  for (const [raw, reason] of refused) {
    test(`refuses ${JSON.stringify(raw.slice(0, 30))}`, () => {
      const result = parseHashKeyTemplate(raw);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.reason, reason);
    });
  }
});
