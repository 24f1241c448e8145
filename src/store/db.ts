/**
 * Opens the database: real PostgreSQL when a URL is given, else embedded PGlite (on disk under the data
 * directory, or in memory for `memory://`). Both are reached through `pg` + kysely.
 */
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResultSet } from 'kysely';
import type { Database } from './schema.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { migrations } from './migrations/index.ts';
import { namePreparedStatements } from './prepared.ts';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  kind: 'embedded' | 'postgres';
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<MigrationResultSet>;
  /** True when a trivial query succeeds. */
  ping(): Promise<boolean>;
  /** Queries executed so far (tests prove hot paths issue none). */
  readonly queryCount: number;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; undefined for the embedded database, `memory://` for an in-memory one. */
  url?: string;
  dataDir: string;
  /** PostgreSQL schema to use (created if missing); tests use one per run. */
  schema?: string;
  poolSize?: number;
}

// int8 as string keeps money exact; callers convert with BigInt where they compute.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/** A failure caused by another schema vanishing mid-read: the schema itself (3F000), or a table in it (42P01). */
export function droppedElsewhere(error: unknown, ownSchema: string | undefined): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === '3F000') return true;
  if (code !== '42P01') return false;
  const other = /relation "([^".]+)\.[^"]+" does not exist/.exec(message ?? '')?.[1];
  return other !== undefined && other !== (ownSchema ?? 'public');
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  let embedded: EmbeddedDatabase | undefined;
  let pool: pg.Pool;
  const schema = opts.schema;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid database schema name "${schema}"`);
  const options = schema ? `-c search_path=${schema}` : undefined;
  if (opts.url && opts.url !== 'memory://') {
    pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, options });
  } else {
    embedded = await startEmbeddedDatabase(opts.url === 'memory://' ? undefined : opts.dataDir);
    pool = new pg.Pool({ host: embedded.host, port: embedded.port, user: 'postgres', database: 'postgres', max: 1, options });
    pool.on('connect', namePreparedStatements);
  }
  // A failed idle client must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  let queryCount = 0;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: () => {
      queryCount++;
    },
  });
  if (schema) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);

  return {
    db,
    kind: embedded ? 'embedded' : 'postgres',
    get queryCount() {
      return queryCount;
    },
    async migrate() {
      const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => migrations },
        ...(schema ? { migrationTableSchema: schema } : {}),
      });
      // kysely's Migrator looks for its tables by introspecting every schema of the database; a schema that
      // another tenant (or test server) drops during that read fails it with 3F000, or with 42P01 naming a
      // table of that schema. Nothing was applied: retry.
      for (let attempt = 1; ; attempt++) {
        const result = await migrator.migrateToLatest();
        if (droppedElsewhere(result.error, schema) && attempt < 5) continue;
        if (result.error) throw result.error;
        return result;
      }
    },
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
