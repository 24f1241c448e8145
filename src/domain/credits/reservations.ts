/**
 * Where admission keeps, per account (or key budget), the last known balance, the charges settled but not
 * yet written, and the credit reserved by requests in flight — all in whole micro-USD. In memory for one
 * instance; in Redis (atomic Lua scripts) so that a fleet shares one view and cannot spend a dollar twice.
 */
import { deleteKeys, RedisScript, type RedisHandle } from '../../store/redis.ts';

export type ReserveResult = 'ok' | 'insufficient' | 'unknown';

export interface Snapshot {
  balance: number;
  pending: number;
  reserved: number;
}

type MaybePromise<T> = T | Promise<T>;

export interface ReservationStore {
  /** Reserves `amount` if balance - pending - reserved covers it; 'unknown' when the key is not loaded. */
  reserve(key: string, amount: number): MaybePromise<ReserveResult>;
  /** Loads a balance if the key is absent (a concurrent loader may have won: that is fine). */
  init(key: string, balance: number, version: number): MaybePromise<void>;
  /** A request finished: its reservation ends and its exact charge waits to be written. */
  settle(key: string, reserved: number, charged: number): MaybePromise<void>;
  release(key: string, reserved: number): MaybePromise<void>;
  /** Charges were written to the ledger: they leave `pending`; the balance is replaced if `version` is newer. */
  flushed(key: string, charged: number, balance: number, version: number): MaybePromise<void>;
  /** For budgets (no ledger row): written charges move from `pending` into the spent balance. */
  spent(key: string, charged: number): MaybePromise<void>;
  /** The ledger balance moved (a grant, a purchase): take it if `version` is newer. */
  refresh(key: string, balance: number, version: number): MaybePromise<void>;
  get(key: string): MaybePromise<Snapshot | undefined>;
  clear(): MaybePromise<void>;
}

interface Slot {
  balance: number;
  version: number;
  pending: number;
  reserved: number;
}

export class MemoryReservations implements ReservationStore {
  private readonly slots = new Map<string, Slot>();

  reserve(key: string, amount: number): ReserveResult {
    const s = this.slots.get(key);
    if (!s) return 'unknown';
    if (s.balance - s.pending - s.reserved < amount) return 'insufficient';
    s.reserved += amount;
    return 'ok';
  }

  init(key: string, balance: number, version: number): void {
    if (!this.slots.has(key)) this.slots.set(key, { balance, version, pending: 0, reserved: 0 });
  }

  settle(key: string, reserved: number, charged: number): void {
    const s = this.slots.get(key);
    if (!s) return;
    s.reserved = Math.max(0, s.reserved - reserved);
    s.pending += charged;
  }

  release(key: string, reserved: number): void {
    const s = this.slots.get(key);
    if (s) s.reserved = Math.max(0, s.reserved - reserved);
  }

  flushed(key: string, charged: number, balance: number, version: number): void {
    const s = this.slots.get(key);
    if (!s) return;
    s.pending = Math.max(0, s.pending - charged);
    if (version > s.version) {
      s.balance = balance;
      s.version = version;
    }
  }

  spent(key: string, charged: number): void {
    const s = this.slots.get(key);
    if (!s) return;
    s.pending = Math.max(0, s.pending - charged);
    s.balance -= charged;
  }

  refresh(key: string, balance: number, version: number): void {
    const s = this.slots.get(key);
    if (s && version > s.version) {
      s.balance = balance;
      s.version = version;
    }
  }

  get(key: string): Snapshot | undefined {
    const s = this.slots.get(key);
    return s && { balance: s.balance, pending: s.pending, reserved: s.reserved };
  }

  clear(): void {
    this.slots.clear();
  }
}

/** Slots expire after an idle hour; the next request reloads the balance from the ledger. */
const TTL_MS = 3_600_000;

const RESERVE = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local s = redis.call('HMGET', KEYS[1], 'bal', 'pend', 'res')
local avail = tonumber(s[1]) - tonumber(s[2] or '0') - tonumber(s[3] or '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if avail >= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[1], 'res', ARGV[1])
  return 1
end
return 0`);

const INIT = new RedisScript(`
if redis.call('HSETNX', KEYS[1], 'bal', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'pend', 0, 'res', 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`);

const SETTLE = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local res = tonumber(redis.call('HGET', KEYS[1], 'res') or '0') - tonumber(ARGV[1])
if res < 0 then res = 0 end
redis.call('HSET', KEYS[1], 'res', res)
redis.call('HINCRBY', KEYS[1], 'pend', ARGV[2])
return 1`);

const FLUSHED = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pend = tonumber(redis.call('HGET', KEYS[1], 'pend') or '0') - tonumber(ARGV[1])
if pend < 0 then pend = 0 end
redis.call('HSET', KEYS[1], 'pend', pend)
if ARGV[4] == 'spent' then
  redis.call('HINCRBY', KEYS[1], 'bal', -tonumber(ARGV[1]))
elseif tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[1], 'ver') or '-1') then
  redis.call('HSET', KEYS[1], 'bal', ARGV[2], 'ver', ARGV[3])
end
return 1`);

const REFRESH = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], 'ver') or '-1') then
  redis.call('HSET', KEYS[1], 'bal', ARGV[1], 'ver', ARGV[2])
end
return 1`);

export class RedisReservations implements ReservationStore {
  constructor(
    private readonly redis: RedisHandle,
    private readonly prefix = 'sy:credit:',
  ) {}

  private eval(script: RedisScript, key: string, args: (string | number)[]): Promise<unknown> {
    return script.run(this.redis, [this.prefix + key], args.map(String));
  }

  async reserve(key: string, amount: number): Promise<ReserveResult> {
    const r = Number(await this.eval(RESERVE, key, [amount, TTL_MS]));
    return r === 1 ? 'ok' : r === 0 ? 'insufficient' : 'unknown';
  }

  async init(key: string, balance: number, version: number): Promise<void> {
    await this.eval(INIT, key, [balance, version, TTL_MS]);
  }

  async settle(key: string, reserved: number, charged: number): Promise<void> {
    await this.eval(SETTLE, key, [reserved, charged]);
  }

  async release(key: string, reserved: number): Promise<void> {
    await this.eval(SETTLE, key, [reserved, 0]);
  }

  async flushed(key: string, charged: number, balance: number, version: number): Promise<void> {
    await this.eval(FLUSHED, key, [charged, balance, version, 'ledger']);
  }

  async spent(key: string, charged: number): Promise<void> {
    await this.eval(FLUSHED, key, [charged, 0, 0, 'spent']);
  }

  async refresh(key: string, balance: number, version: number): Promise<void> {
    await this.eval(REFRESH, key, [balance, version]);
  }

  async get(key: string): Promise<Snapshot | undefined> {
    const h = await this.redis.client.hGetAll(this.prefix + key);
    if (!h || h.bal === undefined) return undefined;
    return { balance: Number(h.bal), pending: Number(h.pend ?? 0), reserved: Number(h.res ?? 0) };
  }

  async clear(): Promise<void> {
    await deleteKeys(this.redis, `${this.prefix}*`);
  }
}
