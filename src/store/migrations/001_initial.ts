import { sql, type Kysely } from 'kysely';

// Timestamps default to millisecond precision so they round-trip exactly through JS Dates: cursor paging on
// (created_at, id) must not skip rows that share a millisecond.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('models')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('upstream_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('chat').check(sql`kind in ('chat', 'embedding')`))
    .addColumn('context_length', 'integer')
    .addColumn('max_output_tokens', 'integer')
    .addColumn('price_input', 'int8', (c) => c.notNull().defaultTo(0).check(sql`price_input >= 0`))
    .addColumn('price_output', 'int8', (c) => c.notNull().defaultTo(0).check(sql`price_output >= 0`))
    .addColumn('price_cached_input', 'int8', (c) => c.check(sql`price_cached_input >= 0`))
    .addColumn('price_cache_write', 'int8', (c) => c.check(sql`price_cache_write >= 0`))
    .addColumn('capabilities', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('admin'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();
  await db.schema.createIndex('models_provider_idx').on('models').column('provider').execute();

  await db.schema
    .createTable('request_logs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('requested_model', 'text', (c) => c.notNull())
    .addColumn('model', 'text')
    .addColumn('provider', 'text')
    .addColumn('upstream_model', 'text')
    .addColumn('stream', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('error_type', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('finish_reason', 'text')
    .addColumn('input_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_read_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_write_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reasoning_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('usage_estimated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('cost_pico', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('ttft_ms', 'integer')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('api_key_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('client_aborted', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('request_logs_created_at_idx').on('request_logs').column('created_at').execute();
  await db.schema.createIndex('request_logs_request_id_idx').on('request_logs').column('request_id').execute();
  await db.schema.createIndex('request_logs_model_created_idx').on('request_logs').columns(['model', 'created_at']).execute();
  await db.schema.createIndex('request_logs_user_created_idx').on('request_logs').columns(['user_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('request_logs').execute();
  await db.schema.dropTable('models').execute();
}
