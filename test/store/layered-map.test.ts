// LayeredMap against a plain Map: the same contents and iteration order after any sequence of
// edits, every earlier version unchanged, and an edit that copies the overlay, not the map.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayeredMap, layeredMapWork } from '../../src/store/layered-map.ts';

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('LayeredMap', () => {
  it('matches a Map, order included, through random batches of sets and deletes', () => {
    const next = random(8);
    let layered = new LayeredMap<string, number>();
    const reference = new Map<string, number>();
    const versions: [LayeredMap<string, number>, [string, number][]][] = [];
    for (let batch = 0; batch < 400; batch++) {
      const draft = layered.edit();
      const edits = batch === 0 ? 300 : 1 + Math.floor(next() * 4);
      for (let edit = 0; edit < edits; edit++) {
        const key = `k${Math.floor(next() * 200)}`;
        if (next() < 0.3) assert.equal(draft.delete(key), reference.delete(key), `delete ${key}`);
        else {
          draft.set(key, batch * 1000 + edit);
          reference.set(key, batch * 1000 + edit);
        }
        assert.equal(draft.get(key), reference.get(key));
      }
      layered = draft.freeze();
      assert.deepEqual([...layered], [...reference]);
      assert.deepEqual([...layered.keys()], [...reference.keys()]);
      assert.deepEqual([...layered.values()], [...reference.values()]);
      assert.equal(layered.size, reference.size);
      for (let probe = 0; probe < 200; probe++) {
        assert.equal(layered.get(`k${probe}`), reference.get(`k${probe}`));
        assert.equal(layered.has(`k${probe}`), reference.has(`k${probe}`));
      }
      versions.push([layered, [...reference]]);
    }
    for (const [version, entries] of versions) assert.deepEqual([...version], entries, 'an earlier version changed');
  });

  it('refuses edits after freeze (the frozen map shares the overlay)', () => {
    const draft = new LayeredMap<string, number>().edit();
    draft.set('a', 1);
    const frozen = draft.freeze();
    assert.throws(() => draft.set('b', 2));
    assert.equal(frozen.has('b'), false);
  });

  it('copies about √N entries per single-key edit of N entries, not N', () => {
    const size = 10_000;
    const draft = new LayeredMap<string, number>().edit();
    for (let index = 0; index < size; index++) draft.set(`k${index}`, index);
    let map = draft.freeze();
    const before = layeredMapWork.copiedEntries;
    const edits = 1_000;
    for (let edit = 0; edit < edits; edit++) {
      const change = map.edit();
      change.set(`k${(edit * 37) % size}`, -edit);
      map = change.freeze();
    }
    const copied = layeredMapWork.copiedEntries - before;
    // A copy of the whole map per edit would be edits × size = 10,000,000 entries.
    assert.ok(copied < 20 * size, `${copied} entries copied for ${edits} edits of a ${size}-entry map`);
    assert.equal(map.size, size);
  });
});
