/**
 * Deletes the rows of `table` whose `column` is before `cutoff`, oldest first through the column's index, in
 * statements of `batch` rows (`id in (... limit)`): no long lock, and the single embedded connection is shared.
 * At most `maxBatches` statements per call, so one pass cannot monopolize the database; `stopped` ends it early.
 */
import { sql, type Kysely } from 'kysely';

export interface BatchedDelete {
  table: string;
  column: string;
  cutoff: Date;
  batch: number;
  maxBatches: number;
  stopped: () => boolean;
}

export async function deleteBefore(db: Kysely<any>, d: BatchedDelete): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < d.maxBatches && !d.stopped(); i++) {
    const res = await sql`delete from ${sql.table(d.table)} where id in (select id from ${sql.table(d.table)} where ${sql.ref(d.column)} < ${d.cutoff} order by ${sql.ref(d.column)} limit ${d.batch})`.execute(db);
    const n = Number(res.numAffectedRows ?? 0);
    deleted += n;
    if (n < d.batch) break;
  }
  return deleted;
}
