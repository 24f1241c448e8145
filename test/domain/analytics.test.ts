/** Pure parts of analytics and health: fingerprints, histogram percentiles, range rules, health status. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorFingerprint, normalizeErrorMessage } from '../../src/domain/analytics/fingerprint.ts';
import { bucketOf, HIST_SIZE, quantile } from '../../src/domain/analytics/histogram.ts';
import { resolveRange, splitByDay, HOURLY_SERIES } from '../../src/domain/analytics/range.ts';
import { HealthTracker } from '../../src/domain/health/tracker.ts';

describe('error fingerprints', () => {
  it('strips ids, numbers, quoted values and URLs', () => {
    assert.equal(normalizeErrorMessage('Rate limit of 500 RPM exceeded for org-9x8y7z6w5v, retry in 2.5s'), 'Rate limit of <n> RPM exceeded for <id>, retry in <n>s');
    assert.equal(normalizeErrorMessage("model 'gpt-4o' not found"), "model '<v>' not found");
    assert.equal(normalizeErrorMessage('request 3f2504e0-4f89-11d3-9a0c-0305e82c3301 failed at https://api.x.com/v1/chat'), 'request <id> failed at <url>');
    assert.equal(normalizeErrorMessage('timeout   after\n30000 ms'), 'timeout after <n> ms');
    const a = errorFingerprint('api_error', 'upstream_503', 'mock failure 503 requested');
    const b = errorFingerprint('api_error', 'upstream_503', 'mock failure 504 requested');
    const c = errorFingerprint('api_error', 'upstream_502', 'mock failure 503 requested');
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(a.fingerprint, c.fingerprint);
  });
});

describe('latency histogram', () => {
  it('buckets by upper bound and estimates quantiles', () => {
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(25), 0);
    assert.equal(bucketOf(26), 1);
    assert.equal(bucketOf(10_000_000), HIST_SIZE - 1);
    const h = new Array(HIST_SIZE).fill(0);
    for (let i = 0; i < 100; i++) h[bucketOf(i < 90 ? 80 : 1200)]++;
    assert.ok(quantile(h, 0.5)! > 50 && quantile(h, 0.5)! <= 100);
    assert.ok(quantile(h, 0.95)! > 1000 && quantile(h, 0.95)! <= 1500);
    assert.equal(quantile(new Array(HIST_SIZE).fill(0), 0.5), null);
  });
});

describe('ranges', () => {
  it('align to hours and split into whole days plus edge hours', () => {
    const r = resolveRange({ from: '2024-03-05T10:30:00Z', to: '2024-03-07T02:10:00Z' }, { ...HOURLY_SERIES, maxMs: 10 * 86_400_000 });
    assert.equal(r.from.toISOString(), '2024-03-05T10:00:00.000Z');
    assert.equal(r.to.toISOString(), '2024-03-07T03:00:00.000Z');
    const s = splitByDay(r);
    assert.equal(s.days!.from.toISOString(), '2024-03-06T00:00:00.000Z');
    assert.equal(s.days!.to.toISOString(), '2024-03-07T00:00:00.000Z');
    assert.deepEqual(s.hours.map((h) => [h.from.toISOString(), h.to.toISOString()]), [
      ['2024-03-05T10:00:00.000Z', '2024-03-06T00:00:00.000Z'],
      ['2024-03-07T00:00:00.000Z', '2024-03-07T03:00:00.000Z'],
    ]);
  });
});

describe('deployment health', () => {
  it('healthy, degraded, down and unknown from the outcome window; client errors do not count', () => {
    const t = new HealthTracker({ windowMs: 1000, minRequests: 3 });
    const now = 1_000_000;
    t.observe('p', 'm', 200, undefined, false, now);
    assert.equal(t.get('p', 'm', now)!.status, 'healthy');
    for (let i = 0; i < 10; i++) t.observe('p', 'm', 400, undefined, false, now);
    t.observe('p', 'm', 499, undefined, true, now);
    assert.equal(t.get('p', 'm', now)!.requests, 1);
    for (let i = 0; i < 9; i++) t.observe('p', 'm', 200, undefined, false, now);
    t.observe('p', 'm', 502, 'upstream_503', false, now);
    t.observe('p', 'm', 429, 'rate', false, now);
    assert.equal(t.get('p', 'm', now)!.status, 'degraded');
    for (let i = 0; i < 20; i++) t.observe('p', 'm', 502, 'upstream_503', false, now);
    assert.equal(t.get('p', 'm', now)!.status, 'down');
    assert.equal(t.providers(now).get('p')!.status, 'down');
    assert.equal(t.get('p', 'm', now + 1100)!.status, 'unknown', 'the window moved past every outcome');
  });
});
