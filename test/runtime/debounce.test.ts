import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDebouncer } from '../../src/runtime/debounce.ts';
import { ManualClock } from './manual-clock.ts';

function setup(holdoffMs = 50, maxDelayMs = 500) {
  const clock = new ManualClock();
  const runs: number[] = [];
  const debouncer = createDebouncer({ holdoffMs, maxDelayMs, clock, run: () => runs.push(clock.now()) });
  return { clock, runs, debouncer };
}

describe('debounce with a hard maximum', () => {
  it('runs once, one hold-off after a single request', () => {
    const { clock, runs, debouncer } = setup();
    debouncer.request();
    clock.advance(49);
    assert.deepEqual(runs, []);
    clock.advance(1);
    assert.deepEqual(runs, [50]);
    clock.advance(1_000);
    assert.deepEqual(runs, [50]);
    assert.equal(debouncer.pending, false);
  });

  it('a burst inside the hold-off coalesces into one run after the last request', () => {
    const { clock, runs, debouncer } = setup();
    for (let i = 0; i < 5; i++) {
      debouncer.request();
      clock.advance(20);
    }
    // last request at t=80 → due at 130
    clock.advance(29);
    assert.deepEqual(runs, []);
    clock.advance(1);
    assert.deepEqual(runs, [130]);
  });

  it('a steady trickle never delays past the hard maximum', () => {
    const { clock, runs, debouncer } = setup(50, 500);
    for (let t = 0; t < 1_200; t += 10) {
      debouncer.request();
      clock.advance(10);
    }
    // first burst starts at 0 → forced at 500; the next starts at 500 (first request after the run)
    assert.deepEqual(runs, [500, 1000]);
    clock.advance(100);
    assert.deepEqual(runs, [500, 1000, 1240]);
  });

  it('a shorter hold-off asked for alone runs early; in a burst the longest asked wins', () => {
    const { clock, runs, debouncer } = setup();
    debouncer.request(5);
    clock.advance(5);
    assert.deepEqual(runs, [5], 'alone, the short hold-off');
    debouncer.request(5);
    clock.advance(2);
    debouncer.request();
    clock.advance(10);
    assert.deepEqual(runs, [5], 'a default request joined the burst: it waits');
    clock.advance(40);
    assert.deepEqual(runs, [5, 57], 'one default hold-off after the default request');
    debouncer.request();
    clock.advance(10);
    debouncer.request(5);
    clock.advance(10);
    assert.deepEqual(runs, [5, 57], 'a short request does not cut a default one short');
    clock.advance(30);
    assert.deepEqual(runs, [5, 57, 107]);
  });

  it('keeps one timer at a time, however many requests arrive', () => {
    const { clock, debouncer } = setup();
    for (let i = 0; i < 100; i++) debouncer.request();
    assert.equal(clock.pendingTimers, 1);
  });

  it('flush runs a pending request at once; cancel forgets it', () => {
    const { clock, runs, debouncer } = setup();
    debouncer.flush();
    assert.deepEqual(runs, []);
    debouncer.request();
    clock.advance(10);
    debouncer.flush();
    assert.deepEqual(runs, [10]);
    assert.equal(clock.pendingTimers, 0);
    debouncer.request();
    debouncer.cancel();
    clock.advance(1_000);
    assert.deepEqual(runs, [10]);
  });

  it('a request made by the run itself starts a new burst', () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const debouncer = createDebouncer({
      holdoffMs: 50,
      maxDelayMs: 500,
      clock,
      run: () => {
        runs.push(clock.now());
        if (runs.length === 1) debouncer.request();
      },
    });
    debouncer.request();
    clock.advance(200);
    assert.deepEqual(runs, [50, 100]);
  });
});
