// Request ids: a client's sane id is kept; otherwise a new UUID-shaped id, never repeated.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { newRequestId, requestIdFrom } from '../../src/proxy/request-id.ts';

/** RFC 9562: 8-4-4-4-12 hex, version 8, variant 10. */
const VERSION_8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('keeps a sane client id and replaces anything else', () => {
    assert.equal(requestIdFrom('abc-123:x'), 'abc-123:x');
    for (const header of [undefined, '', 'has space', 'x'.repeat(129), ['a', 'b']]) {
      assert.match(requestIdFrom(header), VERSION_8);
    }
  });

  it('makes UUID-shaped ids that do not repeat within a process', () => {
    // Past 65,536: the id's high part is remade there.
    const ids = Array.from({ length: 70_000 }, () => newRequestId());
    for (const id of [...ids.slice(0, 3), ...ids.slice(65_534, 65_538)]) assert.match(id, VERSION_8);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('makes ids that differ between processes', () => {
    const script = "import('./src/proxy/request-id.ts').then((m) => console.log(m.newRequestId()))";
    const [first, second] = [0, 1].map(() =>
      execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(),
    );
    assert.match(first ?? '', VERSION_8);
    assert.notEqual(first, second);
  });
});
