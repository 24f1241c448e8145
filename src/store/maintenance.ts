/**
 * Autovacuum for the embedded database. PGlite runs PostgreSQL in single-user mode, where the autovacuum
 * launcher never starts: without this job no table is ever analyzed (the planner then treats every table
 * as tiny and picks plans that read a whole table) and dead rows (updated balances, pruned logs) are never
 * reclaimed. It applies autovacuum's own default thresholds, from the same statistics, once a minute.
 * PostgreSQL servers run their own autovacuum; this job is only started for the embedded database.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import { PeriodicJob } from './periodic-job.ts';

const INTERVAL_MS = 60_000;

/** PostgreSQL's autovacuum defaults: a fixed threshold plus a fraction of the table's rows. */
const ANALYZE_THRESHOLD = 50;
const ANALYZE_SCALE = 0.1;
const VACUUM_THRESHOLD = 50;
const VACUUM_SCALE = 0.2;
/**
 * Rows ANALYZE samples are 300 x this (PostgreSQL's default, 100, reads 30,000 rows per table). The embedded
 * database has one connection, so a pass holds up every other query while it runs: a smaller sample keeps a
 * pass over a large request log short, and is plenty for the equality and range lookups the gateway plans.
 */
const STATISTICS_TARGET = 10;

interface TableStats {
  relname: string;
  reltuples: number;
  n_mod_since_analyze: string;
  n_dead_tup: string;
}

export interface MaintenancePass {
  analyzed: string[];
  vacuumed: string[];
}

export class EmbeddedMaintenance {
  private readonly job: PeriodicJob<MaintenancePass>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
  ) {
    this.job = new PeriodicJob(() => this.pass(), {
      firstMs: INTERVAL_MS,
      everyMs: INTERVAL_MS,
      onError: (err) => log.warn({ err }, 'embedded database maintenance failed'),
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass: vacuums and analyzes the tables past autovacuum's thresholds (a vacuumed table is analyzed too). */
  run(): Promise<MaintenancePass> {
    return this.job.run();
  }

  private async pass(): Promise<MaintenancePass> {
    const { rows } = await sql<TableStats>`
      select s.relname, c.reltuples, s.n_mod_since_analyze, s.n_dead_tup
      from pg_stat_user_tables s join pg_class c on c.oid = s.relid
      where s.schemaname = current_schema()`.execute(this.db);
    const done: MaintenancePass = { analyzed: [], vacuumed: [] };
    const started = performance.now();
    for (const t of rows) {
      if (this.job.stopped) break;
      const tuples = Math.max(0, Number(t.reltuples)); // -1: never analyzed
      const table = sql.table(t.relname);
      const vacuum = Number(t.n_dead_tup) > VACUUM_THRESHOLD + VACUUM_SCALE * tuples;
      if (vacuum) {
        await sql`vacuum ${table}`.execute(this.db);
        done.vacuumed.push(t.relname);
      }
      if (vacuum || Number(t.n_mod_since_analyze) > ANALYZE_THRESHOLD + ANALYZE_SCALE * tuples) {
        await this.db.transaction().execute(async (trx) => {
          await sql`set local default_statistics_target = ${sql.lit(STATISTICS_TARGET)}`.execute(trx);
          await sql`analyze ${table}`.execute(trx);
        });
        done.analyzed.push(t.relname);
      }
    }
    if (done.analyzed.length || done.vacuumed.length) this.log.debug({ ...done, ms: Math.round(performance.now() - started) }, 'embedded database maintenance');
    return done;
  }
}
