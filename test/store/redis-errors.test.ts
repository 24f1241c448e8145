/** Redis connection errors during an outage are reported once, then at most once a minute with a count. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorThrottle } from '../../src/store/redis.ts';

describe('ErrorThrottle', () => {
  it('reports the first error at once, then one per interval with how many were held back, and starts afresh after a reconnect', () => {
    const reports: [string, number][] = [];
    const t = new ErrorThrottle((err, held) => reports.push([(err as Error).message, held]), 60_000);
    const refused = new Error('connect ECONNREFUSED');
    // Retries every 3 s on two connections for two minutes.
    for (let ms = 0; ms < 120_000; ms += 3000) {
      t.error(refused, ms);
      t.error(refused, ms);
    }
    assert.deepEqual(reports, [
      ['connect ECONNREFUSED', 0],
      ['connect ECONNREFUSED', 39],
    ]);
    t.recovered();
    t.error(new Error('Socket closed unexpectedly'), 121_000);
    assert.deepEqual(reports.at(-1), ['Socket closed unexpectedly', 0]);
  });
});
