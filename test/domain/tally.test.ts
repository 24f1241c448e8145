/** The memory rate-limit tally: the shared contract, plus its windows' expiry on a controlled clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTally } from '../../src/domain/limits/tally.ts';
import { tallyContract } from '../support/tally-contract.ts';

let n = 0;
describe('memory tally', () => {
  tallyContract(() => new MemoryTally(), () => `t${++n}`);

  it('a window resets when it ends, a correction after its end is dropped, and ended windows are swept', () => {
    let now = 1_000_000;
    const t = new MemoryTally(() => now);
    const rpm = { key: 'u:rpm', points: 1, limit: 2, windowSeconds: 60 };
    t.take([rpm], []);
    t.take([rpm], []);
    assert.equal(t.take([rpm], []).refusedCounter, 0);
    now += 59_999;
    assert.equal(t.take([rpm], []).refusedCounter, 0, 'still the same window');
    assert.deepEqual(t.take([{ ...rpm, points: 0 }], []).msBeforeNext, [1]);
    now += 1;
    const fresh = t.take([rpm], []);
    assert.deepEqual(fresh.used, [1]);
    assert.deepEqual(fresh.msBeforeNext, [60_000]);
    for (let i = 0; i < 100; i++) t.take([{ key: `other${i}`, points: 1, limit: 5, windowSeconds: 1 }], []);
    now += 60_000;
    t.adjust('u:rpm', 5); // its window ended: nothing to correct
    t.take([{ key: 'last', points: 1, limit: 5, windowSeconds: 60 }], []);
    assert.equal(t.size, 1, 'the ended windows went with the sweep');
  });
});
