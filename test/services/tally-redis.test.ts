/**
 * The Redis rate-limit tally against a real Redis: the shared contract, atomic under concurrency, the counter
 * format rate-limiter-flexible wrote (so counts survive the upgrade), and a script cache flushed under it. Uses
 * database 15, which the fleet tests (which flush database 0) never touch. Runs in `npm run test:services`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisTally } from '../../src/domain/limits/tally.ts';
import { openRedis, type RedisHandle } from '../../src/store/redis.ts';
import { tallyContract } from '../support/tally-contract.ts';

const REDIS = process.env.TEST_REDIS_URL;
const skip = !REDIS ? 'needs TEST_REDIS_URL' : false;
const run = `${process.pid}-${Date.now()}`;
let n = 0;
let redis: RedisHandle;

describe('Redis tally', { skip }, () => {
  before(async () => {
    const url = new URL(REDIS!);
    url.pathname = '/15';
    redis = await openRedis(url.toString(), () => {}, 5000);
  });
  after(async () => {
    await redis?.close();
  });

  tallyContract(() => new RedisTally(redis), () => `tally-${run}-${++n}`);

  it('takes all or nothing under concurrency: 40 requests at once against a limit of 10', async () => {
    const t = new RedisTally(redis);
    const k = `tally-${run}-race`;
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        t.take(
          [
            { key: `${k}:rpm`, points: 1, limit: 10, windowSeconds: 60 },
            { key: `${k}:tpm`, points: 7, limit: 1000, windowSeconds: 60 },
          ],
          [{ key: `${k}:slot`, max: 25 }],
        ),
      ),
    );
    assert.equal(results.filter((r) => r.refusedCounter === undefined && r.refusedSlot === undefined).length, 10);
    assert.equal(await redis.client.get(`sy:rl:${k}:rpm`), '10');
    assert.equal(await redis.client.get(`sy:rl:${k}:tpm`), '70', 'the refused requests left no tokens');
    assert.equal(await redis.client.get(`sy:inflight:${k}:slot`), '10');
  });

  it('keeps the counter format rate-limiter-flexible wrote: an integer key with the window as its expiry', async () => {
    const t = new RedisTally(redis);
    const k = `tally-${run}-format`;
    // A count written by the previous release carries on.
    await redis.client.set(`sy:rl:minute:user:${k}:rpm`, '4', { EX: 60 });
    const r = await t.take([{ key: `minute:user:${k}:rpm`, points: 1, limit: 10, windowSeconds: 60 }], []);
    assert.deepEqual(r.used, [5]);
    const ttl = await redis.client.pTTL(`sy:rl:minute:user:${k}:rpm`);
    assert.ok(ttl > 0 && ttl <= 60_000, String(ttl));
  });

  it('runs again after Redis forgot its scripts (a restart or SCRIPT FLUSH)', async () => {
    const t = new RedisTally(redis);
    const k = `tally-${run}-flush`;
    await t.take([{ key: k, points: 1, limit: 10, windowSeconds: 60 }], []);
    await redis.client.scriptFlush();
    assert.deepEqual((await t.take([{ key: k, points: 1, limit: 10, windowSeconds: 60 }], [])).used, [2]);
  });
});
