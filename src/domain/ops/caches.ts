/**
 * In-process caches that operators can inspect and clear (catalog, rate-limit state, key lookups, ...).
 * Each owner registers its cache at start-up; the admin API lists and clears them by name.
 */
export interface ClearableCache {
  /** Unique, stable name, e.g. "catalog", "rate_limits". */
  name: string;
  description: string;
  /** Small numbers worth showing (entries, version, ...). */
  stats?(): Record<string, number | string | null>;
  /** Drops the cached state (reloading it if the cache must never be empty). */
  clear(): void | Promise<void>;
}

export class CacheRegistry {
  private readonly caches = new Map<string, ClearableCache>();

  register(cache: ClearableCache): void {
    if (this.caches.has(cache.name)) throw new Error(`cache "${cache.name}" is already registered`);
    this.caches.set(cache.name, cache);
  }

  list(): ClearableCache[] {
    return [...this.caches.values()];
  }

  get(name: string): ClearableCache | undefined {
    return this.caches.get(name);
  }
}
