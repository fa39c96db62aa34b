// Strict source-range parsing and matching (allowlist/denylist-source-range), IPv4 and IPv6.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSourceRanges } from '../../src/compile/annotations/annotation-registry.ts';
import { parseSourceRange, sourceDenied } from '../../src/routing/source-range.ts';

function ranges(raw: string) {
  const parsed = parseSourceRanges(raw);
  assert.ok(parsed.ok, raw);
  return parsed.value;
}

test('entries: addresses and CIDRs, IPv4 four-part decimal only, no zone ids, prefix within range', () => {
  for (const good of [
    '10.0.0.0/8',
    '192.168.1.7',
    '0.0.0.0/0',
    '2001:db8::/32',
    '::1',
    '::/0',
    '::ffff:10.0.0.1/128',
  ]) {
    assert.ok(parseSourceRange(good), good);
  }
  for (const bad of [
    '',
    '10.0.0.0/33',
    '127.1',
    '0x7f.0.0.1',
    '10.0.0.0/',
    '10.0.0.0/08x',
    'fe80::1%eth0',
    '2001:db8::/129',
    'a.b.c.d',
    '10.0.0.0/8/8',
  ]) {
    assert.equal(parseSourceRange(bad), undefined, bad);
  }
  assert.equal(parseSourceRanges('10.0.0.0/8, 300.0.0.1').ok, false);
  assert.equal(parseSourceRanges('10.0.0.0/8,').ok, false);
  assert.equal(ranges(' 10.0.0.0/8 , 2001:db8::/32 ').length, 2);
});

test('allowlist: only inside gets through; IPv4-mapped client addresses match IPv4 ranges', () => {
  const allow = ranges('10.0.0.0/8, 2001:db8::/32');
  assert.equal(sourceDenied('10.1.2.3', allow, undefined), false);
  assert.equal(sourceDenied('::ffff:10.1.2.3', allow, undefined), false);
  assert.equal(sourceDenied('11.0.0.1', allow, undefined), true);
  assert.equal(sourceDenied('2001:db8:1::5', allow, undefined), false);
  assert.equal(sourceDenied('2001:db9::5', allow, undefined), true);
  assert.equal(sourceDenied('', allow, undefined), true, 'an unknown address is not inside');
  assert.equal(sourceDenied('11.0.0.1', undefined, undefined), false);
});

test('denylist wins over the allowlist', () => {
  const allow = ranges('10.0.0.0/8');
  const deny = ranges('10.9.0.0/16, ::1');
  assert.equal(sourceDenied('10.9.1.1', allow, deny), true);
  assert.equal(sourceDenied('10.8.1.1', allow, deny), false);
  assert.equal(sourceDenied('::1', undefined, deny), true);
  assert.equal(sourceDenied('::2', undefined, deny), false);
});
