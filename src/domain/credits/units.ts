/**
 * Money units. The ledger keeps pico-USD (1e-12 USD) as bigint: the cost of any request at prices with up to
 * 6 decimals per million tokens is an exact integer there. Amounts typed by people (grants, coupons,
 * purchases) are USD with at most 6 decimals. Admission works in whole micro-USD, rounded against the caller.
 */
import { usdToMicro } from '../pricing.ts';

export const PICO_PER_MICRO = 1_000_000n;
export const PICO_PER_USD = 1_000_000_000_000n;

/** USD (a JSON number, up to 6 decimals) -> pico-USD. */
export function usdToPico(usd: number, field = 'amount_usd'): bigint {
  return usdToMicro(usd, field) * PICO_PER_MICRO;
}

/** pico-USD -> USD number, for display only. */
export function picoToUsdNumber(pico: bigint | string): number {
  const p = typeof pico === 'string' ? BigInt(pico) : pico;
  // Split to keep precision for large balances: whole dollars exactly, the fraction as a double.
  const whole = p / PICO_PER_USD;
  const frac = p % PICO_PER_USD;
  return Number(whole) + Number(frac) / 1e12;
}

/** Whole micro-USD, rounded down (what a balance can surely pay). */
export const picoToMicroFloor = (pico: bigint): number => Number(pico >= 0n ? pico / PICO_PER_MICRO : -((-pico + PICO_PER_MICRO - 1n) / PICO_PER_MICRO));

/** Whole micro-USD, rounded up (what a cost surely does not exceed). */
export const picoToMicroCeil = (pico: bigint): number => Number(pico >= 0n ? (pico + PICO_PER_MICRO - 1n) / PICO_PER_MICRO : -(-pico / PICO_PER_MICRO));
