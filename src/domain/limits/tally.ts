/**
 * The counters behind inference rate limits (per user, per key, and the anonymous per-IP limit): fixed windows
 * (requests or tokens per minute or day) and concurrency slots, taken together and all or nothing. In memory for
 * one instance; in Redis for a fleet, where one Lua script takes them all in a single round trip (a request with
 * rpm, rpd, tpm and max_concurrency used to wait for five, one after another).
 */
import { RedisScript, deleteKeys, type RedisHandle } from '../../store/redis.ts';

export interface WindowCounter {
  key: string;
  /** What this request adds (1 request, or its estimated tokens). */
  points: number;
  /** The window's allowance: a count above it refuses the request. */
  limit: number;
  windowSeconds: number;
}

export interface ConcurrencySlot {
  key: string;
  /** Requests allowed in flight at once. */
  max: number;
}

export interface Taken {
  /** Per counter, up to and including a refused one: the count with this request's points, and ms until the window resets. */
  used: number[];
  msBeforeNext: number[];
  /** The counter that went over its limit; nothing stays taken. */
  refusedCounter?: number;
  /** The slot already at its maximum; nothing stays taken. */
  refusedSlot?: number;
}

export interface Tally {
  take(counters: readonly WindowCounter[], slots: readonly ConcurrencySlot[]): Taken | Promise<Taken>;
  /** Corrects a counter while its window is open (an estimate replaced by the real count); fire and forget. */
  adjust(key: string, delta: number): void;
  /** Frees a slot taken by take(); fire and forget. */
  release(slot: string): void;
  /** Every window starts afresh (slots in use stay counted). */
  clear(): void | Promise<void>;
}

/** A slot whose holder died with its instance frees itself after this long (Redis only). */
const SLOT_TTL_MS = 600_000;
/** How often the memory tally drops windows that ended. */
const SWEEP_EVERY_MS = 60_000;

interface Window {
  count: number;
  resetAt: number;
}

/** Takes a refused request's points back off the windows it reached (`open[i]` is `counters[i]`'s). */
function giveBack(open: Window[], counters: readonly WindowCounter[]): void {
  for (let i = 0; i < open.length; i++) open[i].count -= counters[i].points;
}

export class MemoryTally implements Tally {
  private windows = new Map<string, Window>();
  private readonly slots = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  take(counters: readonly WindowCounter[], slots: readonly ConcurrencySlot[]): Taken {
    const now = this.clock();
    if (now >= this.nextSweep) this.sweep(now);
    const used: number[] = [];
    const msBeforeNext: number[] = [];
    const open: Window[] = [];
    for (let i = 0; i < counters.length; i++) {
      const c = counters[i];
      let w = this.windows.get(c.key);
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + c.windowSeconds * 1000 };
        this.windows.set(c.key, w);
      }
      w.count += c.points;
      open.push(w);
      used.push(w.count);
      msBeforeNext.push(w.resetAt - now);
      if (w.count > c.limit) {
        giveBack(open, counters);
        return { used, msBeforeNext, refusedCounter: i };
      }
    }
    for (let s = 0; s < slots.length; s++) {
      const n = this.slots.get(slots[s].key) ?? 0;
      if (n >= slots[s].max) {
        for (let t = 0; t < s; t++) this.release(slots[t].key);
        giveBack(open, counters);
        return { used, msBeforeNext, refusedSlot: s };
      }
      this.slots.set(slots[s].key, n + 1);
    }
    return { used, msBeforeNext };
  }

  adjust(key: string, delta: number): void {
    const w = this.windows.get(key);
    if (w && w.resetAt > this.clock()) w.count += delta;
  }

  release(slot: string): void {
    const n = (this.slots.get(slot) ?? 1) - 1;
    if (n <= 0) this.slots.delete(slot);
    else this.slots.set(slot, n);
  }

  clear(): void {
    this.windows = new Map();
  }

  /** Windows held (ended ones go within a minute). */
  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    this.nextSweep = now + SWEEP_EVERY_MS;
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * KEYS: the counters, then the slots. ARGV: the number of counters, then points, limit and window seconds per
 * counter, then the slot TTL (ms) and each slot's maximum. Returns {refused counter (1-based, 0: none), refused
 * slot (same), used and ms-before-next per counter reached}. The counter format (SET NX EX, INCRBY, PTTL) is the
 * one rate-limiter-flexible wrote, so counts survive an upgrade.
 */
const TAKE = new RedisScript(`
local n = tonumber(ARGV[1])
local out = {0, 0}
for i = 1, n do
  local k = KEYS[i]
  local points = tonumber(ARGV[3 * i - 1])
  local window = ARGV[3 * i + 1]
  redis.call('SET', k, 0, 'EX', window, 'NX')
  local used = redis.call('INCRBY', k, points)
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then
    redis.call('EXPIRE', k, window)
    ttl = 1000 * tonumber(window)
  end
  out[#out + 1] = used
  out[#out + 1] = ttl
  if used > tonumber(ARGV[3 * i]) then
    for j = 1, i do redis.call('DECRBY', KEYS[j], ARGV[3 * j - 1]) end
    out[1] = i
    return out
  end
end
local base = 3 * n + 2
for s = 1, #KEYS - n do
  local k = KEYS[n + s]
  local inflight = redis.call('INCR', k)
  redis.call('PEXPIRE', k, ARGV[base])
  if inflight > tonumber(ARGV[base + s]) then
    for t = 1, s do redis.call('DECR', KEYS[n + t]) end
    for j = 1, n do redis.call('DECRBY', KEYS[j], ARGV[3 * j - 1]) end
    out[2] = s
    return out
  end
end
return out`);

/** Corrects a counter only while its window is open: a correction must not start a window of its own. */
const ADJUST = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('INCRBY', KEYS[1], ARGV[1])`);

const COUNTER_PREFIX = 'sy:rl:';
const SLOT_PREFIX = 'sy:inflight:';

export class RedisTally implements Tally {
  constructor(private readonly redis: RedisHandle) {}

  async take(counters: readonly WindowCounter[], slots: readonly ConcurrencySlot[]): Promise<Taken> {
    if (!counters.length && !slots.length) return { used: [], msBeforeNext: [] }; // no limit: no round trip
    const keys: string[] = [];
    const args: string[] = [String(counters.length)];
    for (const c of counters) {
      keys.push(COUNTER_PREFIX + c.key);
      args.push(String(c.points), String(c.limit), String(c.windowSeconds));
    }
    args.push(String(SLOT_TTL_MS));
    for (const s of slots) {
      keys.push(SLOT_PREFIX + s.key);
      args.push(String(s.max));
    }
    const reply = (await TAKE.run(this.redis, keys, args)) as number[];
    const taken: Taken = { used: [], msBeforeNext: [] };
    for (let i = 2; i < reply.length; i += 2) {
      taken.used.push(Number(reply[i]));
      taken.msBeforeNext.push(Number(reply[i + 1]));
    }
    if (Number(reply[0]) > 0) taken.refusedCounter = Number(reply[0]) - 1;
    if (Number(reply[1]) > 0) taken.refusedSlot = Number(reply[1]) - 1;
    return taken;
  }

  adjust(key: string, delta: number): void {
    void ADJUST.run(this.redis, [COUNTER_PREFIX + key], [String(delta)]).catch(() => {});
  }

  release(slot: string): void {
    void this.redis.request((c) => c.decr(SLOT_PREFIX + slot)).catch(() => {});
  }

  async clear(): Promise<void> {
    await deleteKeys(this.redis, `${COUNTER_PREFIX}*`);
  }
}
