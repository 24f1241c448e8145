/**
 * Deletes sign-in credentials nobody can use any more: refresh tokens and password-reset tokens a day past
 * their expiry. Every refresh adds a row (rotation), so without this the table grows with every session,
 * forever. Rows that still matter stay: a revoked but unexpired refresh token is what detects the reuse of a
 * stolen one, and EndedSessions reads revocations within one access-token lifetime. Small batches on an
 * unref'd timer, like the request-log retention.
 */
import { sql } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Logger } from '../../telemetry/logger.ts';

const GRACE_MS = 86_400_000;
const BATCH = 5000;
const MAX_BATCHES = 100;
const INTERVAL_MS = 3_600_000;
const FIRST_RUN_MS = 90_000;

export interface CredentialPruneResult {
  refresh_tokens: number;
  password_resets: number;
}

const TABLES = ['refresh_tokens', 'password_resets'] as const;

export class CredentialPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CredentialPruneResult> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  start(): void {
    const schedule = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.run()
          .catch((err) => this.log.error({ err }, 'pruning expired credentials failed'))
          .finally(() => !this.stopped && schedule(INTERVAL_MS));
      }, ms);
      this.timer.unref();
    };
    schedule(FIRST_RUN_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; concurrent calls share it. */
  run(now = Date.now()): Promise<CredentialPruneResult> {
    this.running ??= this.prune(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async prune(now: number): Promise<CredentialPruneResult> {
    const result: CredentialPruneResult = { refresh_tokens: 0, password_resets: 0 };
    const cutoff = new Date(now - GRACE_MS);
    for (const table of TABLES) {
      for (let i = 0; i < MAX_BATCHES && !this.stopped; i++) {
        const res = await sql`delete from ${sql.table(table)} where id in (select id from ${sql.table(table)} where expires_at < ${cutoff} order by expires_at limit ${BATCH})`.execute(this.db);
        const n = Number(res.numAffectedRows ?? 0);
        result[table] += n;
        if (n < BATCH) break;
      }
    }
    if (result.refresh_tokens || result.password_resets) this.log.info(result, 'pruned expired credentials');
    return result;
  }
}
