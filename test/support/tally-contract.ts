/**
 * What every rate-limit tally must do, run against the memory tally (npm test) and the Redis one
 * (test:services): counters and slots taken all or nothing, windows that reset, corrections only inside an
 * open window. `unique` makes keys no other run shares (the Redis one is shared).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Tally } from '../../src/domain/limits/tally.ts';

export function tallyContract(make: () => Tally, unique: () => string): void {
  const counter = (key: string, points: number, limit: number, windowSeconds = 60) => ({ key, points, limit, windowSeconds });

  it('counts each counter and reports the time left in its window', async () => {
    const t = make();
    const k = unique();
    const a = await t.take([counter(`${k}:rpm`, 1, 5), counter(`${k}:tpm`, 40, 100)], []);
    assert.deepEqual(a.used, [1, 40]);
    assert.equal(a.refusedCounter, undefined);
    assert.equal(a.refusedSlot, undefined);
    for (const ms of a.msBeforeNext) assert.ok(ms > 55_000 && ms <= 60_000, String(ms));
    const b = await t.take([counter(`${k}:rpm`, 1, 5), counter(`${k}:tpm`, 40, 100)], []);
    assert.deepEqual(b.used, [2, 80]);
  });

  it('a refused counter leaves nothing taken, on it or on the counters before it, and stops there', async () => {
    const t = make();
    const k = unique();
    await t.take([counter(`${k}:a`, 1, 10), counter(`${k}:b`, 60, 100)], []);
    const refused = await t.take([counter(`${k}:a`, 1, 10), counter(`${k}:b`, 60, 100), counter(`${k}:c`, 1, 10)], []);
    assert.equal(refused.refusedCounter, 1);
    assert.deepEqual(refused.used, [2, 120], 'the counts as they would have been, for the headers');
    const after = await t.take([counter(`${k}:a`, 1, 10), counter(`${k}:b`, 0, 100), counter(`${k}:c`, 1, 10)], []);
    assert.deepEqual(after.used, [2, 60, 1], 'a and b undone; c never touched');
  });

  it('a slot at its maximum refuses, and the counters and earlier slots are given back', async () => {
    const t = make();
    const k = unique();
    const held = await t.take([], [{ key: `${k}:user`, max: 1 }]);
    assert.equal(held.refusedSlot, undefined);
    const refused = await t.take([counter(`${k}:rpm`, 1, 10)], [{ key: `${k}:key`, max: 5 }, { key: `${k}:user`, max: 1 }]);
    assert.equal(refused.refusedSlot, 1);
    assert.equal(refused.refusedCounter, undefined);
    t.release(`${k}:user`);
    await new Promise((r) => setTimeout(r, 20)); // the Redis release is fire and forget
    // Both slots free again (the key slot was given back with the refusal), and the counter was not kept.
    const ok = await t.take([counter(`${k}:rpm`, 1, 10)], [{ key: `${k}:key`, max: 1 }, { key: `${k}:user`, max: 1 }]);
    assert.equal(ok.refusedSlot, undefined);
    assert.deepEqual(ok.used, [1]);
  });

  it('corrections apply inside an open window, and never open one', async () => {
    const t = make();
    const k = unique();
    await t.take([counter(`${k}:tpm`, 100, 1000)], []);
    t.adjust(`${k}:tpm`, -70);
    t.adjust(`${k}:never-taken`, 50);
    await new Promise((r) => setTimeout(r, 20));
    const after = await t.take([counter(`${k}:tpm`, 1, 1000), counter(`${k}:never-taken`, 1, 1000)], []);
    assert.deepEqual(after.used, [31, 1]);
  });

  it('a request under no limit takes nothing', async () => {
    assert.deepEqual(await make().take([], []), { used: [], msBeforeNext: [] });
  });

  it('clear() starts every window afresh', async () => {
    const t = make();
    const k = unique();
    await t.take([counter(`${k}:rpm`, 3, 10)], []);
    await t.clear();
    assert.deepEqual((await t.take([counter(`${k}:rpm`, 1, 10)], [])).used, [1]);
  });
}
