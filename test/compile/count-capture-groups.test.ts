// The hand-written group counter must agree with RE2 itself, which reports every group of a
// pattern that matches the empty string (hence the extra empty alternative).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import RE2 from 're2';
import { countCaptureGroups } from '../../src/compile/count-capture-groups.ts';

const PATTERNS = [
  '/plain',
  '/something(/|$)(.*)',
  '/(?:a|b)/(c)',
  '/(?i)x(y)',
  '/(?i:x)(y)(z)',
  '/(?P<name>[a-z]+)/(\\d+)',
  '/(?<id>[0-9]+)',
  '/\\(literal\\)/(x)',
  '/[()]+/(a)',
  '/[^)(]/(a)(b)',
  '/[]()]/(a)',
  '/[[:alpha:]()]+/(a)',
  '/\\Q(not a group)\\E/(a)',
  '/((a)(b(c)))',
  '/a{2,3}(b)?',
];

it('counts capture groups as RE2 does', () => {
  for (const pattern of PATTERNS) {
    const found = new RE2(`^(?:${pattern})|`).exec('');
    assert.ok(found, pattern);
    assert.equal(countCaptureGroups(pattern), found.length - 1, pattern);
  }
});
