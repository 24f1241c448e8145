/**
 * Exact money arithmetic. Prices are stored as integer micro-USD per million tokens, which makes the cost of a
 * single token an integer number of pico-USD (1e-12 USD): cost = Σ tokens × price, with no rounding at all.
 */
import type { Usage } from '../providers/types.ts';
import { badRequest } from '../errors.ts';

export interface Pricing {
  /** micro-USD per million tokens */
  input: bigint;
  output: bigint;
  /** Null: no separate price; the input price applies. */
  cachedInput: bigint | null;
  cacheWrite: bigint | null;
}

export const ZERO_PRICING: Pricing = { input: 0n, output: 0n, cachedInput: null, cacheWrite: null };

/** USD per million tokens (a JSON number, up to 6 decimals) -> micro-USD per million tokens. */
export function usdToMicro(usd: number, field = 'price'): bigint {
  if (!Number.isFinite(usd) || usd < 0) throw badRequest(`${field} must be a non-negative number`, 'invalid_price', field);
  const rounded = Math.round(usd * 1e6);
  // Reject precision we cannot keep exactly rather than silently rounding money: the integer must map back
  // to the very same JSON number.
  if (!Number.isSafeInteger(rounded) || rounded / 1e6 !== usd) {
    throw badRequest(`${field} must have at most 6 decimals`, 'invalid_price', field);
  }
  return BigInt(rounded);
}

/** A decimal string such as "0.0000025" scaled by 10^shift into an integer, rounding half up past the scale. */
export function decimalToInteger(decimal: string, shift: number): bigint {
  const m = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(decimal);
  if (!m || (!m[1] && !m[2])) throw new Error(`not a decimal number: "${decimal}"`);
  const whole = m[1] || '0';
  const frac = m[2] ?? '';
  const kept = (frac + '0'.repeat(shift)).slice(0, shift);
  let value = BigInt(whole + kept);
  if (frac.length > shift && Number(frac[shift]) >= 5) value += 1n;
  return value;
}

export const microToUsd = (micro: bigint | string): number => Number(micro) / 1e6;
export const picoToUsd = (pico: bigint): number => Number(pico) / 1e12;

export function costPico(usage: Usage, p: Pricing): bigint {
  return (
    BigInt(usage.input) * p.input +
    BigInt(usage.cacheRead) * (p.cachedInput ?? p.input) +
    BigInt(usage.cacheWrite) * (p.cacheWrite ?? p.input) +
    BigInt(usage.output) * p.output
  );
}

/** The JSON view of a price list (USD per million tokens). */
export function pricingToJson(p: Pricing) {
  return {
    input: microToUsd(p.input),
    output: microToUsd(p.output),
    ...(p.cachedInput !== null ? { cached_input: microToUsd(p.cachedInput) } : {}),
    ...(p.cacheWrite !== null ? { cache_write: microToUsd(p.cacheWrite) } : {}),
  };
}

export function pricingFromJson(p: { input: number; output: number; cached_input?: number | null; cache_write?: number | null }): Pricing {
  return {
    input: usdToMicro(p.input, 'pricing.input'),
    output: usdToMicro(p.output, 'pricing.output'),
    cachedInput: p.cached_input == null ? null : usdToMicro(p.cached_input, 'pricing.cached_input'),
    cacheWrite: p.cache_write == null ? null : usdToMicro(p.cache_write, 'pricing.cache_write'),
  };
}
