/** Time ranges for analytics: validated, bounded, and aligned to the rollup buckets they are answered from. */
import { badRequest } from '../../errors.ts';
import { DAY_MS, floorTo, HOUR_MS } from './rollups.ts';

export interface TimeRange {
  from: Date;
  to: Date;
}

export interface RangeRules {
  /** Range used when `from` is absent (ending at `to`, default now). */
  defaultMs: number;
  /** Longest range accepted (before alignment). */
  maxMs: number;
  /** Alignment: `from` is floored and `to` ceiled to this unit (UTC). */
  unitMs: number;
}

const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/**
 * `from`/`to` (ISO 8601, already validated by the route schema) -> an aligned half-open range [from, to).
 * Rollups have hour granularity, so a range is widened to whole buckets; the response echoes the range used.
 */
export function resolveRange(q: { from?: string; to?: string }, rules: RangeRules, now = Date.now()): TimeRange {
  const to = q.to ? Date.parse(q.to) : now;
  const from = q.from ? Date.parse(q.from) : to - rules.defaultMs;
  if (!(from < to)) throw badRequest('"from" must be before "to".', 'invalid_range', 'from');
  if (to - from > rules.maxMs) {
    throw badRequest(`The range is too long: at most ${Math.round(rules.maxMs / HOUR_MS)} hours for this query.`, 'range_too_long', 'from');
  }
  return { from: new Date(floorTo(from, rules.unitMs)), to: new Date(ceilTo(to, rules.unitMs)) };
}

export const DEFAULT_RANGE: RangeRules = { defaultMs: DAY_MS, maxMs: 366 * DAY_MS, unitMs: HOUR_MS };
export const HOURLY_SERIES: RangeRules = { defaultMs: DAY_MS, maxMs: 7 * DAY_MS, unitMs: HOUR_MS };
export const DAILY_SERIES: RangeRules = { defaultMs: 30 * DAY_MS, maxMs: 366 * DAY_MS, unitMs: DAY_MS };
export const RECENT_RANGE: RangeRules = { defaultMs: HOUR_MS, maxMs: 366 * DAY_MS, unitMs: HOUR_MS };

/**
 * Splits an hour-aligned range into the whole UTC days inside it (read from the daily rollup) and the
 * hours around them (read from the hourly rollup), so long ranges touch few rows.
 */
export function splitByDay(r: TimeRange): { days?: TimeRange; hours: TimeRange[] } {
  const f = r.from.getTime();
  const t = r.to.getTime();
  const d0 = ceilTo(f, DAY_MS);
  const d1 = floorTo(t, DAY_MS);
  if (d0 >= d1) return { hours: [r] };
  const hours: TimeRange[] = [];
  if (f < d0) hours.push({ from: r.from, to: new Date(d0) });
  if (d1 < t) hours.push({ from: new Date(d1), to: r.to });
  return { days: { from: new Date(d0), to: new Date(d1) }, hours };
}
