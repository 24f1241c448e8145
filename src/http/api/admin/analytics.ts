/**
 * Admin analytics over the request-log rollups: totals, breakdowns, time series, generation speed and error
 * patterns. Ranges are ISO 8601 `from`/`to` (default: the last 24 hours), widened to whole UTC hours (days
 * for daily series) and bounded; the response echoes the range used.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../../app.ts';
import { breakdown, errorPatterns, series, summary, type Dimension, type Stats } from '../../../domain/analytics/queries.ts';
import { DAILY_SERIES, DEFAULT_RANGE, HOURLY_SERIES, RECENT_RANGE, resolveRange } from '../../../domain/analytics/range.ts';
import { DAY_MS, HOUR_MS } from '../../../domain/analytics/rollups.ts';
import { tokensPerSecondProm } from '../../../domain/analytics/prometheus.ts';

const security = [{ bearerAuth: [] }];
const tags = ['analytics'];

const Instant = z.iso.datetime({ offset: true });
const RangeQuery = z.object({
  from: Instant.optional().describe('Start (ISO 8601, inclusive); floored to the hour. Default: `to` minus 24 hours'),
  to: Instant.optional().describe('End (ISO 8601, exclusive); ceiled to the hour. Default: now'),
});
const FilterQuery = z.object({
  model: z.string().min(1).max(200).optional(),
  provider: z.string().min(1).max(100).optional(),
  api_key_id: z.string().min(1).max(200).optional(),
  user_id: z.string().min(1).max(200).optional(),
});
const Limit = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def).describe(`Rows to return (1-${max})`);

const StatsSchema = z.object({
  requests: z.number(),
  errors: z.number().describe('Requests that ended with status >= 400'),
  error_rate: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_tokens: z.number(),
  cache_write_tokens: z.number(),
  reasoning_tokens: z.number(),
  total_tokens: z.number(),
  cost_usd: z.number(),
  cost_pico: z.string().describe('Exact cost in pico-USD (1e-12 USD)'),
  avg_latency_ms: z.number().nullable().describe('Over successful requests'),
  latency_p50_ms: z.number().nullable().describe('Estimated from a fixed-bucket histogram, successful requests'),
  latency_p95_ms: z.number().nullable(),
  latency_p99_ms: z.number().nullable(),
  output_tokens_per_second: z.number().nullable(),
});
const RangeView = { from: z.string(), to: z.string() };
const rangeView = (r: { from: Date; to: Date }) => ({ from: r.from.toISOString(), to: r.to.toISOString() });

const METRICS = ['requests', 'tokens', 'cost', 'errors', 'latency_p50', 'latency_p95', 'latency_p99'] as const;
type Metric = (typeof METRICS)[number];
const metricValue = (s: Stats | undefined, m: Metric): number | null => {
  switch (m) {
    case 'requests':
      return s?.requests ?? 0;
    case 'tokens':
      return s?.total_tokens ?? 0;
    case 'cost':
      return s?.cost_usd ?? 0;
    case 'errors':
      return s?.errors ?? 0;
    case 'latency_p50':
      return s?.latency_p50_ms ?? null;
    case 'latency_p95':
      return s?.latency_p95_ms ?? null;
    case 'latency_p99':
      return s?.latency_p99_ms ?? null;
  }
};

export const adminAnalyticsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const db = services.database.db;

  app.get('/analytics/summary', {
    schema: {
      tags,
      summary: 'Totals over a range: requests, errors, tokens, cost, latency',
      security,
      querystring: RangeQuery.extend(FilterQuery.shape).strict(),
      response: { 200: z.object({ ...RangeView, ...StatsSchema.shape }) },
    },
    handler: async (request) => {
      const { from, to, ...filters } = request.query;
      const range = resolveRange({ from, to }, DEFAULT_RANGE);
      return { ...rangeView(range), ...(await summary(db, range, filters)) };
    },
  });

  const breakdownRoute = (path: string, dim: Dimension, what: string, def: number, max: number) => {
    app.get(path, {
      schema: {
        tags,
        summary: `Totals per ${what}, most expensive first`,
        security,
        querystring: RangeQuery.extend(FilterQuery.shape).extend({ limit: Limit(def, max) }).strict(),
        response: { 200: z.object({ ...RangeView, data: z.array(z.object({ [dim]: z.string().nullable() }).extend(StatsSchema.shape)) }) },
      },
      handler: async (request) => {
        const { from, to, limit, ...filters } = request.query;
        const range = resolveRange({ from, to }, DEFAULT_RANGE);
        const data = await breakdown(db, range, filters, [dim], limit);
        // The row schema has a computed key, which TypeScript widens to an index signature; zod checks the shape.
        return { ...rangeView(range), data: data as unknown as Record<string, string | null>[] };
      },
    });
  };
  breakdownRoute('/analytics/by-model', 'model', 'model (the public model id; null: unresolved)', 100, 1000);
  breakdownRoute('/analytics/by-provider', 'provider', 'provider', 100, 1000);
  breakdownRoute('/analytics/by-key', 'api_key_id', 'API key (null: the operator key or none)', 50, 1000);
  breakdownRoute('/analytics/by-user', 'user_id', 'user (null: no user)', 50, 1000);

  app.get('/analytics/timeseries', {
    schema: {
      tags,
      summary: 'One metric per hour or day (UTC buckets; empty buckets are 0, or null for latency)',
      description: 'bucket=hour allows ranges up to 7 days, bucket=day up to 366 days. A request at 10:59:59.999 falls in the 10:00 bucket.',
      security,
      querystring: RangeQuery.extend(FilterQuery.shape)
        .extend({ metric: z.enum(METRICS).default('requests'), bucket: z.enum(['hour', 'day']).default('hour') })
        .strict(),
      response: {
        200: z.object({
          metric: z.enum(METRICS),
          bucket: z.enum(['hour', 'day']),
          unit: z.string(),
          ...RangeView,
          points: z.array(z.object({ t: z.string(), value: z.number().nullable() })),
        }),
      },
    },
    handler: async (request) => {
      const { from, to, metric, bucket, ...filters } = request.query;
      const hourly = bucket === 'hour';
      const range = resolveRange({ from, to }, hourly ? HOURLY_SERIES : DAILY_SERIES);
      const byBucket = await series(db, bucket, range, filters);
      const step = hourly ? HOUR_MS : DAY_MS;
      const points = [];
      for (let t = range.from.getTime(); t < range.to.getTime(); t += step) points.push({ t: new Date(t).toISOString(), value: metricValue(byBucket.get(t), metric) });
      const unit = metric === 'cost' ? 'usd' : metric.startsWith('latency') ? 'ms' : metric;
      return { metric, bucket, unit, ...rangeView(range), points };
    },
  });

  app.get('/analytics/tokens-per-second', {
    schema: {
      tags,
      summary: 'Generation speed and throughput per provider and model (JSON, or Prometheus text with format=prometheus)',
      description:
        '`output_tokens_per_second`: output tokens per second of request time over successful requests. ' +
        '`throughput_tokens_per_second`: all tokens over the wall-clock range. Default range: the last hour.',
      security,
      querystring: RangeQuery.extend(FilterQuery.pick({ model: true, provider: true }).shape)
        .extend({ format: z.enum(['json', 'prometheus']).default('json'), limit: Limit(200, 1000) })
        .strict(),
      response: {
        200: z.object({
          ...RangeView,
          window_seconds: z.number(),
          data: z.array(
            z.object({
              provider: z.string().nullable(),
              model: z.string().nullable(),
              requests: z.number(),
              output_tokens: z.number(),
              total_tokens: z.number(),
              output_tokens_per_second: z.number().nullable(),
              throughput_tokens_per_second: z.number(),
            }),
          ),
        }),
      },
    },
    handler: async (request, reply) => {
      const { from, to, format, limit, ...filters } = request.query;
      const range = resolveRange({ from, to }, RECENT_RANGE);
      const seconds = (range.to.getTime() - range.from.getTime()) / 1000;
      const rows = await breakdown(db, range, filters, ['provider', 'model'], limit);
      const data = rows.map((r) => ({
        provider: r.provider,
        model: r.model,
        requests: r.requests,
        output_tokens: r.output_tokens,
        total_tokens: r.total_tokens,
        output_tokens_per_second: r.output_tokens_per_second,
        throughput_tokens_per_second: Math.round((r.total_tokens / seconds) * 1000) / 1000,
      }));
      if (format === 'prometheus') return reply.type('text/plain; version=0.0.4; charset=utf-8').send(tokensPerSecondProm(data) as never); // text: bypasses the JSON serializer
      return { ...rangeView(range), window_seconds: seconds, data };
    },
  });

  app.get('/analytics/errors', {
    schema: {
      tags,
      summary: 'Top error patterns: messages grouped by a fingerprint that ignores ids, numbers and quoted values',
      security,
      querystring: RangeQuery.extend(FilterQuery.pick({ model: true, provider: true }).shape).extend({ limit: Limit(20, 100) }).strict(),
      response: {
        200: z.object({
          ...RangeView,
          total_errors: z.number(),
          patterns: z.array(
            z.object({
              fingerprint: z.string(),
              error_type: z.string(),
              error_code: z.string().nullable(),
              pattern: z.string(),
              count: z.number(),
              first_bucket: z.string(),
              last_seen: z.string(),
              statuses: z.array(z.number()),
              providers: z.array(z.string()),
              models: z.array(z.string()),
              examples: z.array(z.object({ message: z.string().nullable(), request_id: z.string().nullable() })),
            }),
          ),
        }),
      },
    },
    handler: async (request) => {
      const { from, to, limit, ...filters } = request.query;
      const range = resolveRange({ from, to }, DEFAULT_RANGE);
      const { total, patterns } = await errorPatterns(db, range, filters, limit);
      return { ...rangeView(range), total_errors: total, patterns };
    },
  });
};
