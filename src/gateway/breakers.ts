/**
 * Circuit breakers, one per deployment (provider + upstream model). Closed: traffic flows and transient
 * failures are counted over a sliding window; at `failureRate` with at least `minRequests` the breaker opens.
 * Open: routing skips the deployment for `openMs`, doubling on every consecutive trip up to `maxOpenMs`.
 * Half-open: a limited number of probe requests go through; a success closes it, a failure re-opens it.
 * Transitions are broadcast on the cache bus, so with Redis every instance follows the same state; open
 * breakers are also kept in Redis (a `BreakerStore`), so an instance that starts or reconnects after a trip
 * skips the deployment too instead of rediscovering the failure with live traffic.
 */
import type { CacheBus } from '../domain/cache-bus.ts';
import type { RedisHandle } from '../store/redis.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  windowMs: number;
  minRequests: number;
  failureRate: number;
  openMs: number;
  maxOpenMs: number;
  halfOpenProbes: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { windowMs: 30_000, minRequests: 5, failureRate: 0.5, openMs: 10_000, maxOpenMs: 300_000, halfOpenProbes: 1 };

const SLOTS = 10;
/**
 * Breakers one process keeps. A client can name any model on a local provider, and each name would otherwise
 * stay as a breaker and a `circuit_breaker_state` series forever; past this, closed breakers are forgotten,
 * idle ones first. Open and half-open ones are always kept.
 */
export const MAX_BREAKERS = 1000;
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

interface Breaker {
  id: string;
  state: BreakerState;
  /** ms epoch until which an open breaker refuses traffic. */
  openUntil: number;
  /** Consecutive trips without a successful recovery (drives the backoff). */
  trips: number;
  probes: number;
  epochs: Float64Array;
  ok: Uint32Array;
  failed: Uint32Array;
  lastTransition: number;
  lastFailureAt: number | undefined;
}

export type Admit = 'yes' | 'probe' | 'no';

/** Where open breakers outlive the instance that tripped them. */
export interface BreakerStore {
  open(id: string, openUntil: number, trips: number): Promise<void>;
  closed(id: string): Promise<void>;
  /** Open breakers (an `openUntil` in the past means half-open: probes may go). */
  load(): Promise<{ id: string; openUntil: number; trips: number }[]>;
}

const HASH = 'switchyard:breakers';
/** Entries whose open period ended this long ago are stale (the instance that closed them died first). */
const STALE_MS = 3_600_000;

export class RedisBreakerStore implements BreakerStore {
  constructor(private readonly redis: RedisHandle) {}

  async open(id: string, openUntil: number, trips: number): Promise<void> {
    await this.redis.client.hSet(HASH, id, JSON.stringify({ openUntil, trips }));
  }

  async closed(id: string): Promise<void> {
    await this.redis.client.hDel(HASH, id);
  }

  async load(): Promise<{ id: string; openUntil: number; trips: number }[]> {
    const all = await this.redis.client.hGetAll(HASH);
    const out: { id: string; openUntil: number; trips: number }[] = [];
    const stale: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      try {
        const { openUntil, trips } = JSON.parse(raw) as { openUntil: number; trips: number };
        if (!Number.isFinite(openUntil) || openUntil < Date.now() - STALE_MS) stale.push(id);
        else out.push({ id, openUntil, trips: Number.isInteger(trips) && trips > 0 ? trips : 1 });
      } catch {
        stale.push(id);
      }
    }
    if (stale.length) await this.redis.client.hDel(HASH, stale);
    return out;
  }
}

export interface BreakerView {
  id: string;
  state: BreakerState;
  open_until: string | null;
  trips: number;
  requests: number;
  failures: number;
  failure_rate: number;
  last_transition_at: string;
  last_failure_at: string | null;
}

export class BreakerBoard {
  private readonly breakers = new Map<string, Breaker>();
  private readonly slotMs: number;

  constructor(
    readonly opts: BreakerOptions,
    private readonly metrics: Metrics,
    private readonly bus: CacheBus,
    private readonly store?: BreakerStore,
    private readonly onStoreError: (err: unknown) => void = () => {},
  ) {
    this.slotMs = Math.max(1, Math.ceil(opts.windowMs / SLOTS));
    bus.on((msg) => {
      if (msg.type === 'breaker') this.apply(msg.id, msg.state, msg.openUntil, msg.trips, false);
      // Transitions sent while the subscription was down were lost: catch up from the store.
      else if (msg.type === 'resync') void this.restore().catch(this.onStoreError);
    });
  }

  /** Adopts the open breakers kept in the store (at start-up and after a Redis reconnect). */
  async restore(): Promise<number> {
    if (!this.store) return 0;
    let n = 0;
    for (const e of await this.store.load()) {
      const b = this.breakers.get(e.id);
      if (b && b.state !== 'closed' && b.openUntil >= e.openUntil) continue;
      this.apply(e.id, 'open', e.openUntil, e.trips, false);
      n++;
    }
    return n;
  }

  private get(id: string, now = Date.now()): Breaker {
    let b = this.breakers.get(id);
    if (!b) {
      b = { id, state: 'closed', openUntil: 0, trips: 0, probes: 0, epochs: new Float64Array(SLOTS).fill(-1), ok: new Uint32Array(SLOTS), failed: new Uint32Array(SLOTS), lastTransition: Date.now(), lastFailureAt: undefined };
      this.breakers.set(id, b);
      this.metrics.breakerState.set({ deployment: id }, 0);
      if (this.breakers.size > MAX_BREAKERS) this.forget(id, now);
    }
    return b;
  }

  /** Brings the board back to MAX_BREAKERS: closed breakers with nothing in their window, then the oldest closed ones. */
  private forget(keep: string, now: number): void {
    const drop = (id: string) => {
      this.breakers.delete(id);
      this.metrics.breakerState.remove({ deployment: id });
    };
    const closed = [...this.breakers.values()].filter((b) => b.id !== keep && b.state === 'closed' && b.probes === 0);
    for (const b of closed) {
      if (this.breakers.size <= MAX_BREAKERS) return;
      const { ok, failed } = this.window(b, now);
      if (ok + failed === 0) drop(b.id);
    }
    for (const b of closed) {
      if (this.breakers.size <= MAX_BREAKERS) return;
      if (this.breakers.has(b.id)) drop(b.id);
    }
  }

  /** May a request go to this deployment now? `probe` marks a half-open trial that must report back. */
  admit(id: string, now = Date.now()): Admit {
    const b = this.breakers.get(id);
    if (!b || b.state === 'closed') return 'yes';
    if (b.state === 'open') {
      if (now < b.openUntil) return 'no';
      this.apply(id, 'half_open', 0, b.trips, true);
    }
    if (b.probes >= this.opts.halfOpenProbes) return 'no';
    b.probes++;
    return 'probe';
  }

  /** The upstream answered (any non-transient outcome counts: the deployment is alive). */
  success(id: string, admit: Admit, now = Date.now()): void {
    const b = this.get(id, now);
    if (admit === 'probe') {
      b.probes = Math.max(0, b.probes - 1);
      if (b.state === 'half_open') this.apply(id, 'closed', 0, 0, true);
    }
    this.count(b, now, true);
  }

  /** A transient failure (5xx, 429, timeout, connection). */
  failure(id: string, admit: Admit, now = Date.now()): void {
    const b = this.get(id, now);
    b.lastFailureAt = now;
    if (admit === 'probe') {
      b.probes = Math.max(0, b.probes - 1);
      if (b.state === 'half_open') return this.trip(b, now);
    }
    this.count(b, now, false);
    if (b.state !== 'closed') return;
    const { ok, failed } = this.window(b, now);
    const total = ok + failed;
    if (total >= this.opts.minRequests && failed / total >= this.opts.failureRate) this.trip(b, now);
  }

  /** A probe that ended without a verdict (the client left). */
  abandon(id: string, admit: Admit): void {
    if (admit !== 'probe') return;
    const b = this.breakers.get(id);
    if (b) b.probes = Math.max(0, b.probes - 1);
  }

  /** ms until the first of these deployments accepts traffic again. */
  retryAfterMs(ids: string[], now = Date.now()): number {
    let min = Number.POSITIVE_INFINITY;
    for (const id of ids) {
      const b = this.breakers.get(id);
      const wait = !b || b.state !== 'open' ? 0 : Math.max(0, b.openUntil - now);
      if (wait < min) min = wait;
    }
    return Number.isFinite(min) ? min : 0;
  }

  private trip(b: Breaker, now: number): void {
    const trips = b.trips + 1;
    const duration = Math.min(this.opts.maxOpenMs, this.opts.openMs * 2 ** (trips - 1));
    this.apply(b.id, 'open', now + duration, trips, true);
  }

  private count(b: Breaker, now: number, ok: boolean): void {
    const epoch = Math.floor(now / this.slotMs);
    const i = epoch % SLOTS;
    if (b.epochs[i] !== epoch) {
      b.epochs[i] = epoch;
      b.ok[i] = 0;
      b.failed[i] = 0;
    }
    if (ok) b.ok[i]++;
    else b.failed[i]++;
  }

  private window(b: Breaker, now: number): { ok: number; failed: number } {
    const current = Math.floor(now / this.slotMs);
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (b.epochs[i] > current - SLOTS && b.epochs[i] <= current) {
        ok += b.ok[i];
        failed += b.failed[i];
      }
    }
    return { ok, failed };
  }

  private apply(id: string, state: BreakerState, openUntil: number, trips: number, broadcast: boolean): void {
    const b = this.get(id);
    if (b.state === state && b.openUntil === openUntil && b.trips === trips) return;
    const changed = b.state !== state;
    b.state = state;
    b.openUntil = openUntil;
    b.trips = trips;
    if (state !== 'half_open') b.probes = 0;
    if (state === 'closed') {
      b.epochs.fill(-1);
      b.ok.fill(0);
      b.failed.fill(0);
    }
    if (changed) {
      b.lastTransition = Date.now();
      this.metrics.breakerState.set({ deployment: id }, STATE_VALUE[state]);
      this.metrics.breakerTransitions.inc({ deployment: id, to: state });
    }
    if (broadcast && state !== 'half_open') {
      this.bus.publish({ type: 'breaker', id, state, openUntil, trips });
      if (this.store) void (state === 'open' ? this.store.open(id, openUntil, trips) : this.store.closed(id)).catch(this.onStoreError);
    }
  }

  reset(id: string): boolean {
    if (!this.breakers.has(id)) return false;
    this.apply(id, 'closed', 0, 0, true);
    return true;
  }

  resetAll(): number {
    let n = 0;
    for (const id of this.breakers.keys()) if (this.reset(id)) n++;
    return n;
  }

  view(id: string, now = Date.now()): BreakerView | undefined {
    const b = this.breakers.get(id);
    if (!b) return undefined;
    const { ok, failed } = this.window(b, now);
    const total = ok + failed;
    return {
      id,
      state: b.state === 'open' && now >= b.openUntil ? 'half_open' : b.state,
      open_until: b.state === 'open' ? new Date(b.openUntil).toISOString() : null,
      trips: b.trips,
      requests: total,
      failures: failed,
      failure_rate: total ? Math.round((failed / total) * 1000) / 1000 : 0,
      last_transition_at: new Date(b.lastTransition).toISOString(),
      last_failure_at: b.lastFailureAt ? new Date(b.lastFailureAt).toISOString() : null,
    };
  }

  list(): BreakerView[] {
    return [...this.breakers.keys()].sort().map((id) => this.view(id)!);
  }
}
