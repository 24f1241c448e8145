/** The bench's flags: the stream scenario's shape (pacing, ramp) is what its TTFT figures depend on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, type BenchOptions } from '../../bench/options.ts';

const parse = (...argv: string[]) => parseOptions(argv, {}) as BenchOptions;

describe('bench options', () => {
  it('opens 1,000 streams over 5 s at 50 ms pacing unless told otherwise', () => {
    const o = parse();
    assert.equal(o.rampMs, 5000);
    assert.equal(o.chunkIntervalMs, 50);
    assert.equal(o.streams, 1000);
  });

  it('keeps the quick run short: 200 streams at 10 ms, opened over 1 s', () => {
    const o = parse('--quick');
    assert.equal(o.rampMs, 1000);
    assert.equal(o.chunkIntervalMs, 10);
    assert.equal(o.streams, 200);
  });

  it('takes --ramp and --chunk-interval in milliseconds', () => {
    const o = parse('--scenario', 'stream-200', '--ramp', '5000', '--chunk-interval', '100');
    assert.deepEqual(o.scenarios, ['stream-200']);
    assert.equal(o.rampMs, 5000);
    assert.equal(o.chunkIntervalMs, 100);
  });

  it('refuses a ramp that is not a positive integer, and unknown flags', () => {
    assert.throws(() => parse('--ramp', '0'), /--ramp: expected a positive integer/);
    assert.throws(() => parse('--ramp', '1.5'), /--ramp/);
    assert.throws(() => parse('--rampp', '10'), /Unknown option/);
  });
});
