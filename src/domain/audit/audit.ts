/**
 * The audit log: every admin action and security event, with actor, target, changes, IP and request id.
 * Secrets never enter it: change sets are scrubbed of anything that looks like a credential.
 */
import type { Selectable, Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { AuditLogTable, Database } from '../../store/schema.ts';
import type { Principal } from '../auth/principal.ts';
import { afterCursor, cursorTs, decodeCursor, encodeCursor, type Page } from '../paging.ts';

export interface AuditActor {
  type: 'admin_key' | 'user' | 'api_key' | 'system' | 'anonymous';
  id: string | null;
}

export interface AuditEntry {
  actor: AuditActor;
  action: string;
  targetType?: string;
  targetId?: string;
  changes?: Record<string, unknown>;
  ip?: string;
  requestId?: string;
}

export function actorOf(p: Principal | undefined): AuditActor {
  if (!p) return { type: 'anonymous', id: null };
  switch (p.kind) {
    case 'admin_key':
      return { type: 'admin_key', id: 'bootstrap' };
    case 'user':
      return { type: 'user', id: p.user.id };
    case 'api_key':
      return { type: 'api_key', id: `${p.user.id}:${p.key.id}` };
    default:
      return { type: 'anonymous', id: null };
  }
}

const SECRET_FIELD = /pass(word)?|secret|token|^key$|api_?key|authorization|hash/i;

/** Deep copy with credential-like fields replaced, so an audit entry can never leak one. */
export function scrub(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : scrub(v, depth + 1);
  return out;
}

/** Only the fields that changed between two views. */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (k === 'updated_at') continue;
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out[k] = { from: before[k], to: after[k] };
  }
  return out;
}

export interface AuditQuery {
  actor_id?: string;
  action?: string;
  target_type?: string;
  target_id?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry, db: Db | Transaction<Database> = this.db): Promise<void> {
    await db
      .insertInto('audit_log')
      .values({
        actor_type: e.actor.type,
        actor_id: e.actor.id,
        action: e.action,
        target_type: e.targetType ?? null,
        target_id: e.targetId ?? null,
        changes: e.changes ? JSON.stringify(scrub(e.changes)) : null,
        ip: e.ip ?? null,
        request_id: e.requestId ?? null,
      })
      .execute();
  }

  async list(q: AuditQuery): Promise<Page<ReturnType<typeof auditView>>> {
    let base = this.db.selectFrom('audit_log');
    if (q.actor_id) base = base.where('actor_id', '=', q.actor_id);
    if (q.action) base = q.action.endsWith('*') ? base.where('action', 'like', `${q.action.slice(0, -1)}%`) : base.where('action', '=', q.action);
    if (q.target_type) base = base.where('target_type', '=', q.target_type);
    if (q.target_id) base = base.where('target_id', '=', q.target_id);
    if (q.from) base = base.where('created_at', '>=', new Date(q.from));
    if (q.to) base = base.where('created_at', '<', new Date(q.to));
    const total = Number((await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const cursor = decodeCursor(q.cursor);
    let page = base.selectAll().select(cursorTs().as('cursor_ts'));
    if (cursor) page = page.where(afterCursor(cursor, { id: 'bigint' }));
    const rows = await page.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit).map(auditView);
    const last = rows[Math.min(rows.length, q.limit) - 1];
    return { data, next_cursor: rows.length > q.limit && last ? encodeCursor(last.cursor_ts, String(last.id)) : null, total };
  }
}

function auditView(r: Selectable<AuditLogTable>) {
  return {
    id: String(r.id),
    created_at: new Date(r.created_at).toISOString(),
    actor_type: r.actor_type,
    actor_id: r.actor_id,
    action: r.action,
    target_type: r.target_type,
    target_id: r.target_id,
    changes: r.changes,
    ip: r.ip,
    request_id: r.request_id,
  };
}
