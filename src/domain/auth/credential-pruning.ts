/**
 * Deletes sign-in credentials nobody can use any more: refresh tokens and password-reset tokens a day past
 * their expiry. Every refresh adds a row (rotation), so without this the table grows with every session,
 * forever. Rows that still matter stay: a revoked but unexpired refresh token is what detects the reuse of a
 * stolen one, and EndedSessions reads revocations within one access-token lifetime. Hourly, in small batches.
 */
import type { Db } from '../../store/db.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { PeriodicJob } from '../../store/periodic-job.ts';
import { deleteBefore } from '../../store/batched-delete.ts';

const GRACE_MS = 86_400_000;
const BATCH = 5000;
const MAX_BATCHES = 100;

export interface CredentialPruneResult {
  refresh_tokens: number;
  password_resets: number;
}

const TABLES = ['refresh_tokens', 'password_resets'] as const;

export class CredentialPruner {
  private readonly job: PeriodicJob<CredentialPruneResult>;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.job = new PeriodicJob((now) => this.prune(now), {
      firstMs: 90_000,
      everyMs: 3_600_000,
      onError: (err) => log.error({ err }, 'pruning expired credentials failed'),
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass; concurrent calls share it. */
  run(now = Date.now()): Promise<CredentialPruneResult> {
    return this.job.run(now);
  }

  private async prune(now: number): Promise<CredentialPruneResult> {
    const result: CredentialPruneResult = { refresh_tokens: 0, password_resets: 0 };
    const cutoff = new Date(now - GRACE_MS);
    for (const table of TABLES) {
      result[table] = await deleteBefore(this.db, { table, column: 'expires_at', cutoff, batch: BATCH, maxBatches: MAX_BATCHES, stopped: () => this.job.stopped });
    }
    if (result.refresh_tokens || result.password_resets) this.log.info(result, 'pruned expired credentials');
    return result;
  }
}
