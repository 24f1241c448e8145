/** `last_used_at` for keys, recorded in memory per request and written in one batched UPDATE. */
import { sql } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Logger } from '../../telemetry/logger.ts';

export class KeyUsageTracker {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly intervalMs = 15_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  touch(keyId: string, at = Date.now()): void {
    this.pending.set(keyId, at);
  }

  async flush(): Promise<void> {
    if (!this.pending.size) return;
    const batch = [...this.pending];
    this.pending = new Map();
    try {
      for (let i = 0; i < batch.length; i += 500) {
        const rows = batch.slice(i, i + 500).map(([id, at]) => sql`(${id}, ${new Date(at).toISOString()}::timestamptz)`);
        await sql`update api_keys set last_used_at = greatest(coalesce(api_keys.last_used_at, v.at), v.at)
          from (values ${sql.join(rows)}) as v(id, at) where api_keys.id = v.id`.execute(this.db);
      }
    } catch (err) {
      this.log.error({ err }, 'key last_used_at update failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
