/**
 * Identity test helpers: a small HTTP client that records every response body (so tests can scan them for
 * leaked secrets), user/key factories and error assertions. Works against any base URL (in-process test
 * servers and child-process servers alike).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADMIN_KEY } from './server.ts';

export interface CallInit {
  method?: string;
  json?: unknown;
  /** A raw body (sent as-is, with `content-type: application/json` unless headers say otherwise). */
  body?: string;
  /** Bearer credential; `admin` sends the operator key. Omitted: no credentials at all. */
  token?: string;
  admin?: boolean;
  headers?: Record<string, string>;
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface Account {
  id: string;
  email: string;
  password: string;
  access: string;
  refresh: string;
  user: any;
}

export interface CreatedKey {
  id: string;
  key: string;
  view: any;
}

const rand = (n = 6) => randomBytes(n).toString('hex');

export const uniqueEmail = (tag = 'user', domain = 'example.test') => `${tag}-${rand()}@${domain}`;
export const newPassword = () => `pw-${rand(8)}-Secret!`;

/** A fake client address, for servers started with `trustProxy: true`. */
export const fakeIp = () => `10.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

export class Api {
  /** Every response body received, in order (for secret scanning). */
  readonly seen: { path: string; status: number; text: string }[] = [];

  /** With `services` (an in-process test server's), new users get prepaid credit (see `fund`). */
  constructor(
    readonly baseUrl: string,
    readonly services?: object,
  ) {}

  async call<T = any>(path: string, init: CallInit = {}): Promise<Reply<T>> {
    const headers = new Headers(init.headers);
    if (init.admin) headers.set('authorization', `Bearer ${ADMIN_KEY}`);
    else if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    let body = init.body;
    if (init.json !== undefined) body = JSON.stringify(init.json);
    if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    const method = init.method ?? (body !== undefined ? 'POST' : 'GET');
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    this.seen.push({ path, status: res.status, text });
    let parsed: any = text;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON (SSE, HTML) */
      }
    } else parsed = null;
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, init: Omit<CallInit, 'method'> = {}) {
    return this.call<T>(path, { ...init, method: 'GET' });
  }
  post<T = any>(path: string, json: unknown, init: Omit<CallInit, 'method' | 'json'> = {}) {
    return this.call<T>(path, { ...init, method: 'POST', json });
  }
  patch<T = any>(path: string, json: unknown, init: Omit<CallInit, 'method' | 'json'> = {}) {
    return this.call<T>(path, { ...init, method: 'PATCH', json });
  }
  del<T = any>(path: string, init: Omit<CallInit, 'method'> = {}) {
    return this.call<T>(path, { ...init, method: 'DELETE' });
  }

  async register(opts: { email?: string; password?: string; name?: string; headers?: Record<string, string> } = {}): Promise<Account> {
    const email = opts.email ?? uniqueEmail();
    const password = opts.password ?? newPassword();
    const res = await this.post('/api/auth/register', { email, password, ...(opts.name ? { name: opts.name } : {}) }, { headers: opts.headers });
    assert.equal(res.status, 201, `register ${email}: ${res.text}`);
    if (this.services) await fund(this.services, { type: 'user', id: res.body.user.id });
    return { id: res.body.user.id, email: res.body.user.email, password, access: res.body.access_token, refresh: res.body.refresh_token, user: res.body.user };
  }

  login(email: string, password: string, headers?: Record<string, string>) {
    return this.post('/api/auth/login', { email, password }, { headers });
  }

  /** Creates an API key as `token` (a session or an account-scoped key); asserts 201. */
  async createKey(token: string, body: Record<string, unknown> = {}): Promise<CreatedKey> {
    const res = await this.post('/api/keys', { name: `key-${rand(3)}`, ...body }, { token });
    assert.equal(res.status, 201, `create key: ${res.text}`);
    return { id: res.body.id, key: res.body.key, view: res.body };
  }

  /** Admin: creates a user through the admin API. */
  async adminCreateUser(body: Record<string, unknown>) {
    const res = await this.post('/api/admin/users', body, { admin: true });
    assert.equal(res.status, 201, `admin create user: ${res.text}`);
    if (this.services) await fund(this.services, { type: 'user', id: res.body.id });
    return res.body;
  }

  /** A non-streaming chat completion with `key` (sent as Bearer, or `x-api-key` when asked). */
  chat(key: string | undefined, model = 'mock/echo', opts: { headers?: Record<string, string>; viaXApiKey?: boolean; content?: string } = {}) {
    const headers: Record<string, string> = { ...opts.headers };
    if (key && opts.viaXApiKey) headers['x-api-key'] = key;
    return this.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: opts.content ?? 'hello' }] }, { token: opts.viaXApiKey ? undefined : key, headers });
  }
}

/** Asserts an error reply: status, the `{error:{type,message,code}}` shape, and optionally the code. */
export function assertError(res: Reply, status: number, code?: string | RegExp, type?: string): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.ok(res.body && typeof res.body === 'object' && res.body.error, `error body expected: ${res.text}`);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
  assert.equal(typeof res.body.error.type, 'string');
  if (code instanceof RegExp) assert.match(String(res.body.error.code), code);
  else if (code !== undefined) assert.equal(res.body.error.code, code, `code: ${res.text}`);
  if (type !== undefined) assert.equal(res.body.error.type, type);
}

/** A 400 `invalid_request_error`, never a 500. */
export function assertBadRequest(res: Reply, code?: string | RegExp): void {
  assertError(res, 400, code, 'invalid_request_error');
}

/** Asserts that no recorded text contains `secret` (other than the responses allowed to carry it). */
export function assertNotIn(texts: string[], secret: string, what: string): void {
  const hits = texts.filter((t) => t.includes(secret));
  assert.equal(hits.length, 0, `${what} leaked in: ${hits.map((h) => h.slice(0, 200)).join(' | ')}`);
}

/**
 * Config overrides that keep plan rate limits (free: 20 rpm) out of identity tests, which send many requests
 * per user. Typed loosely so it can be spread into any server's overrides.
 */
export const roomyPlans = (): object => {
  const plan = { rpm: 1_000_000 };
  return { plans: { free: plan, pro: plan, power: plan, team: plan } };
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Gives a user or an org prepaid credit so its keys can run inference (the credits feature reserves credit at
 * admission). Goes through the ledger service; a server without a credit system needs nothing.
 */
export async function fund(services: object, owner: { type: 'user' | 'org'; id: string }, usd = 10): Promise<void> {
  const ledger = (services as { ledger?: { apply(owner: unknown, entry: unknown): Promise<unknown> } }).ledger;
  if (!ledger) return;
  await ledger.apply(owner, { kind: 'grant', amount: BigInt(Math.round(usd * 1e6)) * 1_000_000n, actor: { type: 'system', id: null }, reason: 'test funding' });
}
