/**
 * Billing: what the Stripe webhooks need beyond 004's tables. Subscriptions remember their Stripe customer and
 * price, and the creation time of the last event applied to them, so an older event delivered late (Stripe does
 * not order deliveries) never overwrites newer state.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('subscriptions')
    .addColumn('customer_id', 'text')
    .addColumn('price_id', 'text')
    .addColumn('last_event_at', 'timestamptz')
    .addColumn('canceled_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('subscriptions_customer_idx').on('subscriptions').column('customer_id').execute();
  await sql`create index billing_events_processed_idx on billing_events (processed_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists billing_events_processed_idx`.execute(db);
  await db.schema.dropIndex('subscriptions_customer_idx').execute();
  await db.schema.alterTable('subscriptions').dropColumn('customer_id').dropColumn('price_id').dropColumn('last_event_at').dropColumn('canceled_at').execute();
}
