import { sql, type Kysely } from 'kysely';

/** Money is numeric(38,0) in pico-USD (1e-12 USD): exact for any per-token price, no overflow below 1e26 USD. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('credit_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_type', 'text', (c) => c.notNull().check(sql`owner_type in ('user', 'org')`))
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('balance', sql`numeric(38,0)`, (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addUniqueConstraint('credit_accounts_owner_uq', ['owner_type', 'owner_id'])
    .execute();

  await db.schema
    .createTable('credit_transactions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('credit_accounts.id'))
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('grant', 'purchase', 'charge', 'refund', 'coupon', 'adjustment', 'trial', 'subscription_allowance')`),
    )
    .addColumn('amount', sql`numeric(38,0)`, (c) => c.notNull())
    .addColumn('balance_after', sql`numeric(38,0)`, (c) => c.notNull())
    .addColumn('reference_type', 'text')
    .addColumn('reference_id', 'text')
    .addColumn('refund_of', 'bigint', (c) => c.references('credit_transactions.id'))
    .addColumn('api_key_id', 'text')
    .addColumn('model', 'text')
    .addColumn('reason', 'text')
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('metadata', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();
  await sql`create index credit_tx_account_idx on credit_transactions (account_id, created_at desc, id desc)`.execute(db);
  // Idempotency: one charge per request per account; one credit per external reference (Stripe, coupon).
  await sql`create unique index credit_tx_charge_uq on credit_transactions (account_id, reference_id) where kind = 'charge'`.execute(db);
  await sql`create unique index credit_tx_external_uq on credit_transactions (reference_type, reference_id) where kind in ('purchase', 'subscription_allowance', 'trial')`.execute(db);
  await sql`create index credit_tx_refund_of_idx on credit_transactions (refund_of) where refund_of is not null`.execute(db);
  await sql`create index credit_tx_grants_by_actor_idx on credit_transactions (actor_id, created_at) where kind = 'grant'`.execute(db);
  await sql`create index credit_tx_kind_created_idx on credit_transactions (kind, created_at)`.execute(db);
  await sql`create index credit_tx_key_created_idx on credit_transactions (api_key_id, created_at) where api_key_id is not null`.execute(db);

  await db.schema
    .createTable('coupons')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('code', 'text', (c) => c.notNull().unique())
    .addColumn('value', sql`numeric(38,0)`, (c) => c.notNull().check(sql`value > 0`))
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('promotional', 'referral', 'compensation', 'partnership')`))
    .addColumn('max_uses', 'integer', (c) => c.check(sql`max_uses > 0`))
    .addColumn('per_user_limit', 'integer', (c) => c.notNull().defaultTo(1).check(sql`per_user_limit > 0`))
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('valid_from', 'timestamptz')
    .addColumn('valid_until', 'timestamptz')
    .addColumn('assigned_user_id', 'text', (c) => c.references('users.id'))
    .addColumn('description', 'text')
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();

  await db.schema
    .createTable('coupon_redemptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('coupon_id', 'text', (c) => c.notNull().references('coupons.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('account_id', 'text', (c) => c.notNull().references('credit_accounts.id'))
    .addColumn('transaction_id', 'bigint', (c) => c.notNull().references('credit_transactions.id'))
    .addColumn('value', sql`numeric(38,0)`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();
  await db.schema.createIndex('coupon_redemptions_coupon_user_idx').on('coupon_redemptions').columns(['coupon_id', 'user_id']).execute();
  await db.schema.createIndex('coupon_redemptions_user_idx').on('coupon_redemptions').columns(['user_id', 'created_at']).execute();

  await db.schema
    .createTable('billing_customers')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
    .addColumn('customer_id', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('current_period_end', 'timestamptz')
    .addColumn('cancel_at_period_end', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();
  await db.schema.createIndex('subscriptions_user_idx').on('subscriptions').column('user_id').execute();

  await db.schema
    .createTable('billing_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`date_trunc('milliseconds', now())`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['billing_events', 'subscriptions', 'billing_customers', 'coupon_redemptions', 'coupons', 'credit_transactions', 'credit_accounts']) {
    await db.schema.dropTable(t).execute();
  }
}
