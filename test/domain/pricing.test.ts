import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import type { Usage } from '../../src/providers/types.ts';
import {
  costPico,
  decimalToInteger,
  microToUsd,
  picoToUsd,
  pricingFromJson,
  pricingToJson,
  usdToMicro,
  ZERO_PRICING,
  type Pricing,
} from '../../src/domain/pricing.ts';

function expectInvalidPrice(fn: () => unknown, field: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_price');
    assert.equal(err.param, field);
    return true;
  });
}

/** A small deterministic PRNG (mulberry32), so a failure can be reproduced from the seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('usdToMicro', () => {
  it('converts prices with up to 6 decimals exactly', () => {
    assert.equal(usdToMicro(0.15), 150_000n);
    assert.equal(usdToMicro(2.5), 2_500_000n);
    assert.equal(usdToMicro(0.000001), 1n);
    assert.equal(usdToMicro(1_000_000), 1_000_000_000_000n);
    assert.equal(usdToMicro(0), 0n);
    assert.equal(usdToMicro(0.075), 75_000n);
    assert.equal(usdToMicro(1.1), 1_100_000n);
    assert.equal(usdToMicro(0.3), 300_000n);
    assert.equal(usdToMicro(123.456789), 123_456_789n);
  });

  it('is exact for every price with up to 6 decimals written as a JSON number', () => {
    const random = rng(42);
    for (let i = 0; i < 5000; i++) {
      const micro = BigInt(Math.floor(random() * 1e11));
      const text = `${micro / 1_000_000n}.${String(micro % 1_000_000n).padStart(6, '0')}`;
      assert.equal(usdToMicro(JSON.parse(text)), micro, text);
    }
  });

  it('rejects more than 6 decimals when the extra digit is below a micro-dollar', () => {
    expectInvalidPrice(() => usdToMicro(0.0000001), 'price');
    expectInvalidPrice(() => usdToMicro(0.0000025, 'pricing.input'), 'pricing.input');
  });

  it('rejects a 7th decimal on prices of a dollar or more instead of rounding it away', () => {
    expectInvalidPrice(() => usdToMicro(2.5000001), 'price');
    expectInvalidPrice(() => usdToMicro(1.0000004), 'price');
    expectInvalidPrice(() => usdToMicro(15.1234567), 'price');
  });

  it('rejects negatives, NaN and infinities, naming the field', () => {
    expectInvalidPrice(() => usdToMicro(-0.5), 'price');
    expectInvalidPrice(() => usdToMicro(-0.000001, 'pricing.output'), 'pricing.output');
    expectInvalidPrice(() => usdToMicro(Number.NaN), 'price');
    expectInvalidPrice(() => usdToMicro(Number.POSITIVE_INFINITY), 'price');
  });

  it('rejects amounts too large to hold exactly', () => {
    expectInvalidPrice(() => usdToMicro(1e10), 'price');
  });
});

describe('decimalToInteger', () => {
  it('scales decimal strings exactly', () => {
    assert.equal(decimalToInteger('0.0000025', 12), 2_500_000n);
    assert.equal(decimalToInteger('0.00000015', 12), 150_000n);
    assert.equal(decimalToInteger('15', 6), 15_000_000n);
    assert.equal(decimalToInteger('.5', 6), 500_000n);
    assert.equal(decimalToInteger('3.', 6), 3_000_000n);
    assert.equal(decimalToInteger('  0.1  ', 3), 100n);
    assert.equal(decimalToInteger('0', 12), 0n);
    assert.equal(decimalToInteger('12345678901234567890.123', 3), 12345678901234567890123n);
  });

  it('rounds half up past the scale', () => {
    assert.equal(decimalToInteger('0.0000000000005', 12), 1n);
    assert.equal(decimalToInteger('0.0000000000004999', 12), 0n);
    assert.equal(decimalToInteger('1.9999999999995', 12), 2_000_000_000_000n);
    assert.equal(decimalToInteger('2.5', 0), 3n);
    assert.equal(decimalToInteger('2.49', 0), 2n);
    assert.equal(decimalToInteger('0.1234565', 6), 123_457n);
    assert.equal(decimalToInteger('0.1234564999', 6), 123_456n);
  });

  it('throws on anything that is not a plain non-negative decimal', () => {
    for (const bad of ['', ' ', '.', 'abc', '1.2.3', '-1', '+1', '1e-6', '0x10', '1,5', 'NaN', '1 000']) {
      assert.throws(() => decimalToInteger(bad, 6), /not a decimal number/, JSON.stringify(bad));
    }
  });
});

describe('costPico', () => {
  const usage = (u: Partial<Usage>): Usage => ({ input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0, ...u });

  it('sums every token kind at its own price', () => {
    // $2.50 in, $10 out, $1.25 cached read, $3.125 cache write per million
    const p: Pricing = { input: 2_500_000n, output: 10_000_000n, cachedInput: 1_250_000n, cacheWrite: 3_125_000n };
    const u = usage({ input: 1000, cacheRead: 2000, cacheWrite: 500, output: 300, reasoning: 200 });
    // 1000×2.5e6 + 2000×1.25e6 + 500×3.125e6 + 300×10e6 (reasoning is inside output, not charged twice)
    assert.equal(costPico(u, p), 2_500_000_000n + 2_500_000_000n + 1_562_500_000n + 3_000_000_000n);
    assert.equal(picoToUsd(costPico(u, p)), 0.0095625);
  });

  it('charges cached reads and cache writes at the input price when they have none', () => {
    const p: Pricing = { input: 3_000_000n, output: 15_000_000n, cachedInput: null, cacheWrite: null };
    assert.equal(costPico(usage({ input: 10, cacheRead: 20, cacheWrite: 30, output: 4 }), p), 60n * 3_000_000n + 4n * 15_000_000n);
  });

  it('uses a zero cached price rather than falling back to input', () => {
    const p: Pricing = { input: 1_000_000n, output: 0n, cachedInput: 0n, cacheWrite: 0n };
    assert.equal(costPico(usage({ input: 5, cacheRead: 1000, cacheWrite: 1000 }), p), 5_000_000n);
  });

  it('is zero for empty usage and for zero pricing', () => {
    assert.equal(costPico(usage({}), { input: 9n, output: 9n, cachedInput: 9n, cacheWrite: 9n }), 0n);
    assert.equal(costPico(usage({ input: 123, output: 456, cacheRead: 7 }), ZERO_PRICING), 0n);
  });

  it('stays exact far beyond the float range', () => {
    const p: Pricing = { input: 1_000_000_000_000n, output: 999_999_999_999n, cachedInput: 1n, cacheWrite: 7n };
    const n = Number.MAX_SAFE_INTEGER;
    const u = usage({ input: n, cacheRead: n, cacheWrite: n, output: n });
    const N = BigInt(n);
    assert.equal(costPico(u, p), N * 1_000_000_000_000n + N * 1n + N * 7n + N * 999_999_999_999n);
  });

  it('equals an independently computed BigInt sum for many random usages and prices', () => {
    const random = rng(20250101);
    const int = (max: number) => Math.floor(random() * max);
    for (let i = 0; i < 2000; i++) {
      const u = usage({ input: int(2_000_000), cacheRead: int(2_000_000), cacheWrite: int(500_000), output: int(200_000), reasoning: 0 });
      u.reasoning = int(u.output + 1);
      const p: Pricing = {
        input: BigInt(int(100_000_000)),
        output: BigInt(int(600_000_000)),
        cachedInput: random() < 0.5 ? null : BigInt(int(50_000_000)),
        cacheWrite: random() < 0.5 ? null : BigInt(int(150_000_000)),
      };
      // Independent model: each token costs its kind's price in pico-USD; reasoning is part of output.
      let expected = 0n;
      for (let k = 0; k < 4; k++) {
        const [count, price] = [
          [u.input, p.input],
          [u.cacheRead, p.cachedInput === null ? p.input : p.cachedInput],
          [u.cacheWrite, p.cacheWrite === null ? p.input : p.cacheWrite],
          [u.output, p.output],
        ][k] as [number, bigint];
        expected += BigInt(count) * price;
      }
      assert.equal(costPico(u, p), expected, JSON.stringify({ u, p: pricingToJson(p) }));
      // and, in USD, it agrees with the float estimate to well within a rounding error
      const approx = (u.input * Number(p.input) + u.cacheRead * Number(p.cachedInput ?? p.input) + u.cacheWrite * Number(p.cacheWrite ?? p.input) + u.output * Number(p.output)) / 1e12;
      assert.ok(Math.abs(picoToUsd(expected) - approx) <= 1e-9 * Math.max(1, approx));
    }
  });
});

describe('pricing JSON', () => {
  it('converts to USD per million tokens and omits null cache prices', () => {
    assert.deepEqual(pricingToJson({ input: 150_000n, output: 600_000n, cachedInput: 75_000n, cacheWrite: null }), { input: 0.15, output: 0.6, cached_input: 0.075 });
    assert.deepEqual(pricingToJson(ZERO_PRICING), { input: 0, output: 0 });
    assert.equal(microToUsd('2500000'), 2.5);
  });

  it('parses JSON prices, with null or missing cache prices meaning "use the input price"', () => {
    assert.deepEqual(pricingFromJson({ input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 }), {
      input: 3_000_000n,
      output: 15_000_000n,
      cachedInput: 300_000n,
      cacheWrite: 3_750_000n,
    });
    assert.deepEqual(pricingFromJson({ input: 0.1, output: 0.4, cached_input: null }), { input: 100_000n, output: 400_000n, cachedInput: null, cacheWrite: null });
  });

  it('names the offending field', () => {
    expectInvalidPrice(() => pricingFromJson({ input: 1, output: -1 }), 'pricing.output');
    expectInvalidPrice(() => pricingFromJson({ input: 1, output: 1, cache_write: 0.00000001 }), 'pricing.cache_write');
  });

  it('round-trips', () => {
    const random = rng(7);
    const micro = () => BigInt(Math.floor(random() * 1e11));
    const cases: Pricing[] = [
      ZERO_PRICING,
      { input: 1n, output: 1_000_000_000_000n, cachedInput: 0n, cacheWrite: 0n },
      { input: 150_000n, output: 600_000n, cachedInput: 75_000n, cacheWrite: null },
    ];
    for (let i = 0; i < 1000; i++) cases.push({ input: micro(), output: micro(), cachedInput: random() < 0.5 ? null : micro(), cacheWrite: random() < 0.5 ? null : micro() });
    for (const p of cases) {
      const json = pricingToJson(p);
      assert.deepEqual(pricingFromJson(JSON.parse(JSON.stringify(json))), p);
    }
  });
});
