/**
 * Observability: request-log rollups (hourly and daily, maintained incrementally by the request-log writer),
 * error-pattern rollups, deployment incidents and client analytics events. Analytics queries read these
 * tables by bucket range (the leading primary-key column), never the raw request log.
 */
import { sql, type Kysely } from 'kysely';

const HIST_SIZE = 20; // src/domain/analytics/histogram.ts HIST_SIZE; frozen here as migrations must not change

async function createRollup(db: Kysely<any>, table: string): Promise<void> {
  await db.schema
    .createTable(table)
    .addColumn('bucket', 'timestamptz', (c) => c.notNull())
    // '' stands for "none" (unresolved model, no key, no user): primary-key columns cannot be null.
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    /** floor(status / 100): 2 success, 4 client error (incl. 499 aborts), 5 upstream/server error. */
    .addColumn('status_class', 'smallint', (c) => c.notNull())
    .addColumn('requests', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('input_tokens', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_read_tokens', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_write_tokens', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('reasoning_tokens', 'int8', (c) => c.notNull().defaultTo(0))
    /** pico-USD, exact. */
    .addColumn('cost_pico', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('latency_ms_sum', 'int8', (c) => c.notNull().defaultTo(0))
    /** Fixed-bucket latency histogram (counts), see src/domain/analytics/histogram.ts. */
    .addColumn('latency_hist', sql`int8[]`, (c) => c.notNull().check(sql`cardinality(latency_hist) = ${sql.lit(HIST_SIZE)}`))
    .addPrimaryKeyConstraint(`${table}_pkey`, ['bucket', 'model', 'provider', 'api_key_id', 'user_id', 'status_class'])
    .execute();
}

export async function up(db: Kysely<any>): Promise<void> {
  // Per key and user, model and provider left '' (by-key, by-user, key/user filters) ...
  await createRollup(db, 'request_rollups_hourly');
  await createRollup(db, 'request_rollups_daily');
  // ... and per model and provider, key and user left '' (everything else). See src/domain/analytics/rollups.ts.
  await createRollup(db, 'request_rollups_model_hourly');
  await createRollup(db, 'request_rollups_model_daily');

  await db.schema
    .createTable('request_error_rollups')
    .addColumn('bucket', 'timestamptz', (c) => c.notNull())
    /** Hash of error type, code and the normalized message. */
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('error_type', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text', (c) => c.notNull())
    .addColumn('pattern', 'text', (c) => c.notNull())
    .addColumn('count', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('example_message', 'text')
    .addColumn('example_request_id', 'text')
    .addPrimaryKeyConstraint('request_error_rollups_pkey', ['bucket', 'fingerprint', 'provider', 'model', 'status'])
    .execute();

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('ongoing').check(sql`status in ('ongoing', 'resolved')`))
    /** When the deployment was first seen down (before the incident opened). */
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolution', 'text', (c) => c.check(sql`resolution in ('recovered', 'manual')`))
    .addColumn('resolved_by', 'text')
    .addColumn('note', 'text')
    .addColumn('requests', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_status', 'integer')
    .addColumn('last_error_code', 'text')
    .execute();
  // At most one ongoing incident per deployment, even with several instances detecting the same outage.
  await sql`create unique index incidents_one_ongoing_idx on incidents (provider, model) where status = 'ongoing'`.execute(db);
  await db.schema.createIndex('incidents_started_at_idx').on('incidents').column('started_at').execute();

  await db.schema
    .createTable('analytics_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('properties', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('session_id', 'text')
    .addColumn('principal_kind', 'text')
    .addColumn('principal_id', 'text')
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('analytics_events_received_at_idx').on('analytics_events').column('received_at').execute();
  await db.schema.createIndex('analytics_events_name_occurred_idx').on('analytics_events').columns(['name', 'occurred_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['analytics_events', 'incidents', 'request_error_rollups', 'request_rollups_model_daily', 'request_rollups_model_hourly', 'request_rollups_daily', 'request_rollups_hourly']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
