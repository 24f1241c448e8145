/**
 * WriteBehind batches: a full batch is written at once, a background pass leaves items that arrive during
 * its write for the timer (unless they fill a batch), and flush() writes everything.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBehind } from '../../src/store/write-behind.ts';

/** A write handler whose writes finish when the test says so. */
function gatedWriter() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  return {
    batches,
    write: (batch: number[]) => {
      batches.push([...batch]);
      return new Promise<void>((resolve) => gates.push(resolve));
    },
    /** Lets the oldest pending write finish, then lets the writer run on. */
    async release() {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('WriteBehind', () => {
  it('leaves items that arrive during a background write for the timer, unless they fill a batch', async () => {
    const w = gatedWriter();
    // A timer far away: only a full batch (or flush) writes in this test.
    const q = new WriteBehind<number>({ batchSize: 10, flushIntervalMs: 60_000, maxQueue: 1000 }, { write: w.write, failed: () => 'drop' });
    for (let i = 0; i < 10; i++) q.push(i);
    assert.deepEqual(w.batches, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    for (let i = 10; i < 13; i++) q.push(i); // arrive while the first batch is being written
    await w.release();
    assert.equal(w.batches.length, 1, 'three items do not get a transaction of their own');
    assert.equal(q.depth, 3);
    for (let i = 13; i < 20; i++) q.push(i); // now a full batch
    assert.deepEqual(w.batches[1], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    await w.release();
    assert.equal(q.depth, 0);
  });

  it('flush() writes everything, including what arrives while it writes', async () => {
    const w = gatedWriter();
    const q = new WriteBehind<number>({ batchSize: 10, flushIntervalMs: 60_000, maxQueue: 1000 }, { write: w.write, failed: () => 'drop' });
    q.push(1);
    const flushed = q.flush();
    await new Promise((r) => setImmediate(r));
    q.push(2);
    await w.release();
    await w.release();
    await flushed;
    assert.deepEqual(w.batches, [[1], [2]]);
    assert.equal(q.depth, 0);
  });

  it('writes on the timer what did not fill a batch', async () => {
    const batches: number[][] = [];
    const q = new WriteBehind<number>({ batchSize: 100, flushIntervalMs: 20, maxQueue: 1000 }, { write: async (b) => void batches.push([...b]), failed: () => 'drop' });
    q.push(1);
    q.push(2);
    assert.equal(batches.length, 0);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(batches, [[1, 2]]);
  });

  it('keeps a batch whose write failed with retry at the head of the queue', async () => {
    let fail = true;
    const batches: number[][] = [];
    const q = new WriteBehind<number>(
      { batchSize: 2, flushIntervalMs: 10, maxQueue: 1000 },
      {
        write: async (b) => {
          batches.push([...b]);
          if (fail) throw new Error('database away');
        },
        failed: () => 'retry',
      },
    );
    q.push(1);
    q.push(2);
    await new Promise((r) => setImmediate(r));
    assert.equal(q.depth, 2, 'the failed batch stays queued');
    fail = false;
    await q.flush();
    assert.equal(q.depth, 0);
    assert.deepEqual(batches.at(-1), [1, 2]);
  });
});
