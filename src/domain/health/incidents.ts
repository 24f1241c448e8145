/**
 * Incidents: a deployment continuously "down" for `openAfterMs` opens one; seeing it healthy again closes
 * it (resolution "recovered"); an admin may resolve it by hand. Evaluated on an unref'd timer from the
 * in-memory HealthTracker, so the request path never waits on it. A partial unique index keeps one ongoing
 * incident per deployment across instances.
 */
import { sql, type Selectable } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { IncidentsTable } from '../../store/schema.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { conflict, notFound } from '../../errors.ts';
import type { HealthTracker } from './tracker.ts';

export interface IncidentView {
  id: string;
  provider: string;
  model: string;
  status: 'ongoing' | 'resolved';
  started_at: string;
  opened_at: string;
  resolved_at: string | null;
  resolution: 'recovered' | 'manual' | null;
  resolved_by: string | null;
  note: string | null;
  duration_seconds: number;
  requests: number;
  failures: number;
  last_status: number | null;
  last_error_code: string | null;
}

export function toIncidentView(r: Selectable<IncidentsTable>, now = Date.now()): IncidentView {
  const started = new Date(r.started_at).getTime();
  const end = r.resolved_at ? new Date(r.resolved_at).getTime() : now;
  return {
    id: String(r.id),
    provider: r.provider,
    model: r.model,
    status: r.status,
    started_at: new Date(r.started_at).toISOString(),
    opened_at: new Date(r.opened_at).toISOString(),
    resolved_at: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
    resolution: r.resolution,
    resolved_by: r.resolved_by,
    note: r.note,
    duration_seconds: Math.max(0, Math.round((end - started) / 1000)),
    requests: r.requests,
    failures: r.failures,
    last_status: r.last_status,
    last_error_code: r.last_error_code,
  };
}

/** `id = $1` on an int8 key given as a string (kysely's operand typing rejects strings for int8 columns). */
export const idIs = (id: string) => sql<boolean>`id = ${id}::int8`;

const keyOf = (provider: string, model: string) => `${provider}\u0000${model}`;
/** How often other instances' incident changes are picked up. */
const REFRESH_MS = 10_000;

export class IncidentMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly downSince = new Map<string, number>();
  /** deployment key -> ongoing incident id */
  private readonly ongoing = new Map<string, string>();
  private lastRefresh = 0;
  readonly intervalMs: number;

  constructor(
    private readonly db: Db,
    private readonly tracker: HealthTracker,
    private readonly openAfterMs: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    // Checks a few times per open delay: an incident opens within ~25% of the configured delay.
    this.intervalMs = Math.max(25, Math.min(5000, Math.floor(openAfterMs / 4) || 25));
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Ongoing incidents per provider (memory only), for /status. */
  ongoingByProvider(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of this.ongoing.keys()) {
      const provider = key.slice(0, key.indexOf('\u0000'));
      out.set(provider, (out.get(provider) ?? 0) + 1);
    }
    return out;
  }

  private async refresh(): Promise<void> {
    const rows = await this.db.selectFrom('incidents').select(['id', 'provider', 'model']).where('status', '=', 'ongoing').limit(10_000).execute();
    this.ongoing.clear();
    for (const r of rows) this.ongoing.set(keyOf(r.provider, r.model), String(r.id));
    this.lastRefresh = Date.now();
    this.metrics.incidentsOngoing.set(this.ongoing.size);
  }

  /** One evaluation pass; exported for tests that drive time themselves. */
  async tick(now = Date.now()): Promise<void> {
    try {
      if (now - this.lastRefresh >= REFRESH_MS) await this.refresh();
      for (const h of this.tracker.snapshot(now)) {
        const key = keyOf(h.provider, h.model);
        if (h.status === 'down') {
          const since = this.downSince.get(key) ?? now;
          this.downSince.set(key, since);
          if (!this.ongoing.has(key) && now - since >= this.openAfterMs) await this.open(h.provider, h.model, since, h);
          continue;
        }
        this.downSince.delete(key);
        // Degraded or unknown (no traffic) is no proof of recovery: the incident stays open.
        const id = this.ongoing.get(key);
        if (h.status === 'healthy' && id) await this.close(key, id);
      }
    } catch (err) {
      this.log.error({ err }, 'incident evaluation failed');
    }
  }

  private async open(provider: string, model: string, since: number, h: { requests: number; failures: number; last_status: number | null; last_error_code: string | null }): Promise<void> {
    const inserted = await this.db
      .insertInto('incidents')
      .values({ provider, model, started_at: new Date(since), requests: h.requests, failures: h.failures, last_status: h.last_status, last_error_code: h.last_error_code })
      .onConflict((oc) => oc.columns(['provider', 'model']).where('status', '=', 'ongoing').doNothing())
      .returning('id')
      .executeTakeFirst();
    // Another instance opened it first: adopt theirs.
    const id = inserted?.id ?? (await this.db.selectFrom('incidents').select('id').where('provider', '=', provider).where('model', '=', model).where('status', '=', 'ongoing').executeTakeFirst())?.id;
    if (id === undefined) return;
    this.ongoing.set(keyOf(provider, model), String(id));
    this.metrics.incidentsOngoing.set(this.ongoing.size);
    if (inserted) {
      this.metrics.incidentsOpened.inc({ provider });
      this.log.warn({ incident: String(id), provider, model }, 'incident opened: deployment down');
    }
  }

  private async close(key: string, id: string): Promise<void> {
    await this.db
      .updateTable('incidents')
      .set({ status: 'resolved', resolved_at: new Date(), resolution: 'recovered' })
      .where(idIs(id))
      .where('status', '=', 'ongoing')
      .execute();
    this.ongoing.delete(key);
    this.metrics.incidentsOngoing.set(this.ongoing.size);
    this.log.info({ incident: id }, 'incident resolved: deployment recovered');
  }

  /** Manual resolution. A deployment still down needs another full open delay before a new incident. */
  async resolve(id: string, by: string, note: string | undefined): Promise<IncidentView> {
    const row = await this.db
      .updateTable('incidents')
      .set({ status: 'resolved', resolved_at: new Date(), resolution: 'manual', resolved_by: by, note: note ?? null })
      .where(idIs(id))
      .where('status', '=', 'ongoing')
      .returningAll()
      .executeTakeFirst();
    if (!row) {
      const exists = await this.db.selectFrom('incidents').select('id').where(idIs(id)).executeTakeFirst();
      if (!exists) throw notFound(`No incident ${id}.`, 'incident_not_found', 'id');
      throw conflict(`Incident ${id} is already resolved.`, 'incident_already_resolved');
    }
    const key = keyOf(row.provider, row.model);
    if (this.ongoing.get(key) === id) this.ongoing.delete(key);
    if (this.downSince.has(key)) this.downSince.set(key, Date.now());
    this.metrics.incidentsOngoing.set(this.ongoing.size);
    return toIncidentView(row);
  }
}

/** MTTR and counts over incidents that started in the range. */
export async function incidentStatistics(db: Db, from: Date, to: Date) {
  const rows = await db
    .selectFrom('incidents')
    .select(['provider'])
    .select([
      sql<string>`count(*)`.as('total'),
      sql<string>`count(*) filter (where status = 'ongoing')`.as('ongoing'),
      sql<string>`count(*) filter (where status = 'resolved')`.as('resolved'),
      sql<string | null>`sum(extract(epoch from resolved_at - started_at)) filter (where status = 'resolved')`.as('repair_seconds'),
    ])
    .where('started_at', '>=', from)
    .where('started_at', '<', to)
    .groupBy('provider')
    .orderBy('provider')
    .limit(1000)
    .execute();
  const mttr = (seconds: number, n: number) => (n ? Math.round(seconds / n) : null);
  let total = 0;
  let ongoing = 0;
  let resolved = 0;
  let repair = 0;
  const byProvider = rows.map((r) => {
    const t = Number(r.total);
    const o = Number(r.ongoing);
    const res = Number(r.resolved);
    const sec = Number(r.repair_seconds ?? 0);
    total += t;
    ongoing += o;
    resolved += res;
    repair += sec;
    return { provider: r.provider, total: t, ongoing: o, resolved: res, mttr_seconds: mttr(sec, res) };
  });
  return { from: from.toISOString(), to: to.toISOString(), total, ongoing, resolved, mttr_seconds: mttr(repair, resolved), by_provider: byProvider };
}
