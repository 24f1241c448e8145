/**
 * Sessions ended before their access tokens expire: a logout, or a refresh-token family revoked for reuse.
 * Access tokens carry their session family (`fam`); a token of an ended family is refused on the next request.
 * Kept in memory for one access-token lifetime, shared over the cache bus, and rebuilt from the
 * refresh_tokens table at start-up and after a Redis reconnect (so no instance misses an ending).
 */
import type { CacheBus } from '../cache-bus.ts';
import type { Db } from '../../store/db.ts';

export class EndedSessions {
  /** family -> ms epoch after which every access token of it has expired anyway. */
  private readonly ended = new Map<string, number>();
  private readonly ttlMs: number;

  constructor(
    private readonly db: Db,
    private readonly bus: CacheBus,
    accessTokenTtlSeconds: number,
    onLoadError: (err: unknown) => void = () => {},
  ) {
    this.ttlMs = accessTokenTtlSeconds * 1000;
    bus.on((msg) => {
      if (msg.type === 'session_ended') this.remember(msg.family);
      else if (msg.type === 'resync') void this.load().catch(onLoadError);
    });
  }

  /** Families revoked within one access-token lifetime. */
  async load(): Promise<void> {
    const since = new Date(Date.now() - this.ttlMs);
    const rows = await this.db.selectFrom('refresh_tokens').select('family_id').distinct().where('revoked_at', '>', since).execute();
    for (const r of rows) this.remember(r.family_id);
  }

  /** Ends a family here and on every instance; call after the revocation committed. */
  end(family: string): void {
    this.bus.publish({ type: 'session_ended', family });
  }

  isEnded(family: string | undefined, now = Date.now()): boolean {
    if (!family) return false;
    const until = this.ended.get(family);
    if (until === undefined) return false;
    if (now < until) return true;
    this.ended.delete(family);
    return false;
  }

  private remember(family: string): void {
    const now = Date.now();
    this.ended.set(family, now + this.ttlMs);
    // Forget what has expired, a little at a time (entries are in insertion order, so oldest first).
    for (const [f, until] of this.ended) {
      if (until > now) break;
      this.ended.delete(f);
    }
  }
}
