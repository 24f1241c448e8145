/**
 * PostgreSQL LISTEN/NOTIFY as a broadcast channel, for instances (and the CLI) that share a PostgreSQL database
 * without Redis. One dedicated connection listens; it reconnects after a drop, and then reports it, because
 * notifications sent while it was away are lost. Publishing goes through the regular pool.
 */
import pg from 'pg';
import { sql } from 'kysely';
import type { Db } from './db.ts';

export interface PgNotifyOptions {
  /** PostgreSQL URL of the database whose notifications to hear. */
  url: string;
  /** Channel name; tenants of one database (schemas) use their own. */
  channel: string;
  onError?: (err: unknown) => void;
  /** Wait before the first reconnect attempt, doubled up to 5 s. */
  retryMs?: number;
}

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7999;
const MAX_RETRY_MS = 5000;
/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'switchyard-listen';

export class PgNotifyChannel {
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private onMessage: (payload: string) => void = () => {};
  private onResync: () => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly opts: PgNotifyOptions,
  ) {}

  /** Starts listening (a failure to connect the first time rejects); `onResync` follows every reconnect. */
  async subscribe(onMessage: (payload: string) => void, onResync: () => void): Promise<void> {
    this.onMessage = onMessage;
    this.onResync = onResync;
    await this.connect();
  }

  async publish(payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new Error(`notification payload over ${MAX_PAYLOAD_BYTES} bytes`);
    await sql`select pg_notify(${this.opts.channel}, ${payload})`.execute(this.db);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, application_name: LISTENER_APPLICATION_NAME });
    client.on('notification', (n) => {
      if (n.channel === this.opts.channel && n.payload !== undefined) this.onMessage(n.payload);
    });
    client.on('error', (err) => {
      this.opts.onError?.(err);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.opts.channel)}`);
    } catch (err) {
      // Its 'end' is ignored: `lost` only acts for the connection in use.
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
  }

  private lost(client: pg.Client): void {
    if (this.closed || client !== this.client) return;
    this.client = undefined;
    this.reconnect(this.opts.retryMs ?? 500);
  }

  private reconnect(waitMs: number): void {
    this.retry = setTimeout(() => {
      this.connect().then(
        () => {
          if (!this.closed) this.onResync();
        },
        (err) => {
          this.opts.onError?.(err);
          if (!this.closed) this.reconnect(Math.min(waitMs * 2, MAX_RETRY_MS));
        },
      );
    }, waitMs);
    this.retry.unref();
  }
}
