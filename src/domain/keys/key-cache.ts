/**
 * The in-process LRU in front of key lookups: a warm key authenticates with no I/O. Entries are dropped
 * when the key or its user changes (through the cache bus, on every instance with Redis), and expire after
 * a TTL as a backstop. Unknown and revoked secrets are cached briefly too, so guessing costs no queries.
 */
import type { KeyRecord } from './records.ts';

interface Entry {
  key: KeyRecord;
  expires: number;
}

export type Rejection = 'invalid' | 'revoked';

export class KeyCache {
  private readonly byHash = new Map<string, Entry>();
  private readonly hashById = new Map<string, string>();
  private readonly hashesByUser = new Map<string, Set<string>>();
  private readonly hashesByOrg = new Map<string, Set<string>>();
  private readonly rejected = new Map<string, { reason: Rejection; expires: number }>();
  /**
   * Invalidation generations: a lookup that started before a key, its user or its org was invalidated must
   * not cache what it read (it may be the row from before a revocation).
   */
  private generation = 0;
  private readonly droppedAt = new Map<string, number>();
  /** Generation of the last clear(): lookups that started before it cache nothing. */
  private clearedAt = 0;

  /** Take before reading the database; pass to `set`. */
  get epoch(): number {
    return this.generation;
  }

  private markDropped(id: string): void {
    this.generation++;
    if (this.droppedAt.size >= 50_000) this.droppedAt.delete(this.droppedAt.keys().next().value!);
    this.droppedAt.delete(id);
    this.droppedAt.set(id, this.generation);
  }

  private staleSince(epoch: number, key: KeyRecord): boolean {
    return (
      this.clearedAt > epoch ||
      (this.droppedAt.get(`k:${key.id}`) ?? 0) > epoch ||
      (this.droppedAt.get(`u:${key.userId}`) ?? 0) > epoch ||
      (key.orgId !== null && (this.droppedAt.get(`o:${key.orgId}`) ?? 0) > epoch)
    );
  }

  constructor(
    private readonly max = 100_000,
    private readonly ttlMs = 5 * 60_000,
    private readonly negativeTtlMs = 10_000,
  ) {}

  get(hash: string, now: number): KeyRecord | undefined {
    const e = this.byHash.get(hash);
    if (!e) return undefined;
    if (e.expires < now) {
      this.drop(hash);
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order, so re-inserting moves it to the back.
    this.byHash.delete(hash);
    this.byHash.set(hash, e);
    return e.key;
  }

  rejection(hash: string, now: number): Rejection | undefined {
    const r = this.rejected.get(hash);
    if (!r) return undefined;
    if (r.expires < now) {
      this.rejected.delete(hash);
      return undefined;
    }
    return r.reason;
  }

  /** Caches a key read from the database, unless it was invalidated after `epoch` (returns false then). */
  set(hash: string, key: KeyRecord, now: number, epoch = this.generation): boolean {
    if (this.staleSince(epoch, key)) return false;
    if (this.byHash.size >= this.max) this.drop(this.byHash.keys().next().value!);
    this.byHash.set(hash, { key, expires: now + this.ttlMs });
    this.hashById.set(key.id, hash);
    index(this.hashesByUser, key.userId, hash);
    if (key.orgId) index(this.hashesByOrg, key.orgId, hash);
    return true;
  }

  reject(hash: string, reason: Rejection, now: number): void {
    if (this.rejected.size >= 10_000) this.rejected.delete(this.rejected.keys().next().value!);
    this.rejected.set(hash, { reason, expires: now + this.negativeTtlMs });
  }

  dropKey(id: string): void {
    this.markDropped(`k:${id}`);
    const hash = this.hashById.get(id);
    if (hash) this.drop(hash);
    // A revoked or rotated secret may sit in the negative cache as "invalid"; that stays correct.
  }

  dropUser(userId: string): void {
    this.markDropped(`u:${userId}`);
    for (const hash of [...(this.hashesByUser.get(userId) ?? [])]) this.drop(hash);
  }

  dropOrg(orgId: string): void {
    this.markDropped(`o:${orgId}`);
    for (const hash of [...(this.hashesByOrg.get(orgId) ?? [])]) this.drop(hash);
  }

  clear(): void {
    this.clearedAt = ++this.generation;
    this.byHash.clear();
    this.hashById.clear();
    this.hashesByUser.clear();
    this.hashesByOrg.clear();
    this.rejected.clear();
  }

  get size(): number {
    return this.byHash.size;
  }

  private drop(hash: string): void {
    const e = this.byHash.get(hash);
    if (!e) return;
    this.byHash.delete(hash);
    this.hashById.delete(e.key.id);
    unindex(this.hashesByUser, e.key.userId, hash);
    if (e.key.orgId) unindex(this.hashesByOrg, e.key.orgId, hash);
  }
}

function index(map: Map<string, Set<string>>, id: string, hash: string) {
  let set = map.get(id);
  if (!set) map.set(id, (set = new Set()));
  set.add(hash);
}

function unindex(map: Map<string, Set<string>>, id: string, hash: string) {
  const set = map.get(id);
  if (!set) return;
  set.delete(hash);
  if (!set.size) map.delete(id);
}
