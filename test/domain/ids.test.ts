import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { timeOrderedHex } from '../../src/domain/ids.ts';

describe('timeOrderedHex', () => {
  it('is 32 hex digits, led by the time in ms, and unique', () => {
    const before = Date.now();
    const ids = Array.from({ length: 10_000 }, timeOrderedHex);
    const after = Date.now();
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, ids.length);
    const first = parseInt(ids[0].slice(0, 12), 16);
    assert.ok(first >= before && first <= after, `time prefix ${first} within [${before}, ${after}]`);
  });

  it('sorts ids made in later milliseconds after earlier ones', async () => {
    const a = timeOrderedHex();
    await new Promise((r) => setTimeout(r, 3));
    const b = timeOrderedHex();
    assert.ok(a < b, `${a} < ${b}`);
  });
});
