/** The breaker board stays bounded however many deployment names clients make up. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BreakerBoard, MAX_BREAKERS } from '../../src/gateway/breakers.ts';
import { CacheBus } from '../../src/domain/cache-bus.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';

const opts = { windowMs: 10_000, minRequests: 2, failureRate: 0.5, openMs: 60_000, maxOpenMs: 60_000, halfOpenProbes: 1 };

async function stateSeries(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  return (await metrics.breakerState.get()).values.length;
}

describe('breaker board bound', () => {
  it('keeps at most MAX_BREAKERS, forgetting idle closed breakers first and never an open one', async () => {
    const metrics = createMetrics();
    const board = new BreakerBoard(opts, metrics, new CacheBus());
    const t0 = 1_000_000_000;
    // An upstream that really fails: its breaker opens and must survive the flood.
    board.failure('up/broken', 'yes', t0);
    board.failure('up/broken', 'yes', t0);
    assert.equal(board.view('up/broken', t0)!.state, 'open');
    // Traffic long ago (idle now), then recent traffic under made-up names: ten more than the bound allows.
    for (let i = 0; i < 10; i++) board.success(`local/old-${i}`, 'yes', t0);
    const later = t0 + 5 * opts.windowMs;
    for (let i = 0; i < MAX_BREAKERS - 1; i++) board.success(`local/new-${i}`, 'yes', later);

    const ids = board.list().map((b) => b.id);
    assert.equal(ids.length, MAX_BREAKERS);
    assert.ok(ids.includes('up/broken'), 'the open breaker stays');
    assert.equal(ids.filter((id) => id.startsWith('local/old-')).length, 0, 'the idle closed breakers made the room');
    assert.equal(ids.filter((id) => id.startsWith('local/new-')).length, MAX_BREAKERS - 1, 'no recent one was forgotten');
    assert.equal(await stateSeries(metrics), MAX_BREAKERS, 'and so did their circuit_breaker_state series');

    // With nothing idle left, the oldest closed ones give way; the newest is kept.
    for (let i = 0; i < 50; i++) board.success(`local/flood-${i}`, 'yes', later);
    const after = board.list().map((b) => b.id);
    assert.equal(after.length, MAX_BREAKERS);
    assert.ok(after.includes('up/broken') && after.includes('local/flood-49'));
    assert.ok(!after.includes('local/new-0'));
    assert.equal(await stateSeries(metrics), MAX_BREAKERS);
  });
});
