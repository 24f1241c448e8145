/**
 * Admin user management through HTTP: create/list/search/paging, get/patch/delete with immediate effect,
 * provisioned keys, stats, growth, deletion by email domain (dry run first, protected domains), the audit
 * log, and who may call /api/admin at all. Registration is closed on this server (the operator provisions).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, newPassword, uniqueEmail, type Account, roomyPlans } from '../support/identity.ts';

let server: TestServer;
let api: Api;
const PROTECTED = 'protected-corp.test';

before(async () => {
  server = await startTestServer({ allowRegistration: false, protectedDomains: [PROTECTED.toUpperCase(), 'other.test'], ...roomyPlans() });
  api = new Api(server.url, server.services);
});
after(async () => server?.stop());

const tag = () => randomBytes(4).toString('hex');

/** A user created by the admin API, signed in. */
async function user(opts: { email?: string; role?: 'user' | 'admin'; tier?: string; name?: string } = {}): Promise<Account> {
  const email = opts.email ?? uniqueEmail('adm');
  const password = newPassword();
  const created = await api.adminCreateUser({ email, password, ...(opts.role ? { role: opts.role } : {}), ...(opts.tier ? { tier: opts.tier } : {}), ...(opts.name ? { name: opts.name } : {}) });
  const login = await api.login(email, password);
  assert.equal(login.status, 200, login.text);
  return { id: created.id, email: created.email, password, access: login.body.access_token, refresh: login.body.refresh_token, user: created };
}

async function listAll(query: string, limit: number) {
  const pages: any[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const res: any = await api.get(`/api/admin/users?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { admin: true });
    assert.equal(res.status, 200, res.text);
    pages.push(res.body);
    cursor = res.body.next_cursor;
    if (!cursor) break;
  }
  return pages;
}

describe('registration closed', () => {
  it('POST /api/auth/register -> 403 registration_closed; nothing is created; the admin still provisions', async () => {
    const email = uniqueEmail('closed');
    const res = await api.post('/api/auth/register', { email, password: newPassword() });
    assertError(res, 403, 'registration_closed', 'permission_error');
    const found = await api.get(`/api/admin/users?q=${encodeURIComponent(email)}`, { admin: true });
    assert.equal(found.body.total, 0);
    const u = await user({ email });
    assert.equal(u.email, email);
  });
});

describe('create, list, search, page', () => {
  it('create: 201 with the view; email lowercased; duplicates 409; audited', async () => {
    const email = uniqueEmail('Create').toUpperCase();
    const res = await api.post('/api/admin/users', { email, name: 'Grace', role: 'user', tier: 'power' }, { admin: true, headers: { 'x-request-id': 'req-admin-create-1' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.email, email.toLowerCase());
    assert.equal(res.body.tier, 'power');
    assert.equal(res.body.name, 'Grace');
    assertError(await api.post('/api/admin/users', { email: email.toLowerCase() }, { admin: true }), 409, 'email_taken');
    const audit = await api.get(`/api/admin/audit?action=admin.user_create&target_id=${res.body.id}`, { admin: true });
    assert.equal(audit.body.total, 1);
    const e = audit.body.data[0];
    assert.equal(e.actor_type, 'admin_key');
    assert.equal(e.actor_id, 'bootstrap');
    assert.equal(e.target_type, 'user');
    assert.equal(e.request_id, 'req-admin-create-1');
    assert.ok(e.ip);
    assert.deepEqual(e.changes, { email: email.toLowerCase(), role: 'user', tier: 'power' });
  });

  it('search by email, name or id; filters on role, tier and status', async () => {
    const t = tag();
    const domain = `search-${t}.test`;
    const a = await user({ email: `alpha@${domain}`, tier: 'pro', name: `Zed ${t}` });
    const b = await user({ email: `beta@${domain}`, role: 'admin' });
    const c = await user({ email: `gamma@${domain}`, tier: 'pro' });
    await api.patch(`/api/admin/users/${c.id}`, { status: 'suspended' }, { admin: true });
    const q = (s: string) => api.get(`/api/admin/users?${s}`, { admin: true }).then((r) => {
      assert.equal(r.status, 200, r.text);
      return { ids: r.body.data.map((u: any) => u.id).sort(), total: r.body.total };
    });
    assert.deepEqual(await q(`q=${domain}`), { ids: [a.id, b.id, c.id].sort(), total: 3 });
    assert.deepEqual(await q(`q=${domain.toUpperCase()}`), { ids: [a.id, b.id, c.id].sort(), total: 3 }, 'case-insensitive');
    assert.deepEqual(await q(`q=zed%20${t}`), { ids: [a.id], total: 1 }, 'by name');
    assert.deepEqual(await q(`q=${a.id}`), { ids: [a.id], total: 1 }, 'by id');
    assert.deepEqual(await q(`q=${domain}&tier=pro`), { ids: [a.id, c.id].sort(), total: 2 });
    assert.deepEqual(await q(`q=${domain}&role=admin`), { ids: [b.id], total: 1 });
    assert.deepEqual(await q(`q=${domain}&status=suspended`), { ids: [c.id], total: 1 });
    assert.deepEqual(await q(`q=${domain}&status=active&tier=pro`), { ids: [a.id], total: 1 });
    // LIKE wildcards in the search are literal.
    assert.deepEqual(await q(`q=${encodeURIComponent('%')}${t}`), { ids: [], total: 0 });
    assert.deepEqual(await q(`q=${encodeURIComponent('_')}lpha@${domain}`), { ids: [], total: 0 });
  });

  it('cursor paging walks every page once, newest first, with the same true total on each page', async () => {
    const domain = `paging-${tag()}.test`;
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await api.adminCreateUser({ email: `u${i}@${domain}` })).id);
    for (const limit of [1, 3, 7, 50]) {
      const pages = await listAll(`q=${domain}`, limit);
      assert.equal(pages.length, Math.ceil(7 / limit), `limit ${limit}`);
      assert.ok(pages.every((p) => p.total === 7));
      const ids = pages.flatMap((p) => p.data.map((u: any) => u.id));
      assert.deepEqual(ids, [...created].reverse(), `limit ${limit}: newest first, no gaps, no repeats`);
      assert.equal(pages.at(-1).next_cursor, null);
    }
  });

  it(
    'cursor paging does not skip rows created within the same millisecond',
    async () => {
      const domain = `micro-${tag()}.test`;
      const ids = ['usr_micro_a', 'usr_micro_b', 'usr_micro_c'].map((p) => `${p}_${tag()}`);
      const stamps = ['2021-03-04 05:06:07.123100+00', '2021-03-04 05:06:07.123400+00', '2021-03-04 05:06:07.123700+00'];
      for (let i = 0; i < 3; i++)
        await sql`insert into users (id, email, created_at, updated_at) values (${ids[i]}, ${`m${i}@${domain}`}, ${stamps[i]}::timestamptz, now())`.execute(server.services.database.db);
      const pages = await listAll(`q=${domain}`, 1);
      assert.equal(pages[0].total, 3);
      assert.deepEqual(pages.flatMap((p) => p.data.map((u: any) => u.id)), [...ids].reverse());
    },
  );
});

describe('get, patch, delete', () => {
  it('GET one user; unknown ids 404', async () => {
    const u = await user();
    const res = await api.get(`/api/admin/users/${u.id}`, { admin: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.email, u.email);
    assert.ok(!('password_hash' in res.body));
    assertError(await api.get('/api/admin/users/usr_nobody', { admin: true }), 404, 'user_not_found');
    assertError(await api.patch('/api/admin/users/usr_nobody', { tier: 'pro' }, { admin: true }), 404, 'user_not_found');
    assertError(await api.del('/api/admin/users/usr_nobody', { admin: true }), 404, 'user_not_found');
  });

  it('PATCH: name, tier, limits, trial expiry; audited with the diff', async () => {
    const u = await user();
    const trial = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const res = await api.patch(`/api/admin/users/${u.id}`, { name: 'Patched', tier: 'team', limits: { rpm: 60 }, trial_expires_at: trial }, { admin: true, headers: { 'x-request-id': 'req-patch-1' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.name, 'Patched');
    assert.equal(res.body.tier, 'team');
    assert.deepEqual(res.body.limits, { rpm: 60 });
    assert.equal(res.body.trial_expires_at, trial);
    const audit = await api.get(`/api/admin/audit?action=admin.user_update&target_id=${u.id}`, { admin: true });
    assert.equal(audit.body.total, 1);
    const e = audit.body.data[0];
    assert.equal(e.request_id, 'req-patch-1');
    assert.deepEqual(e.changes.tier, { from: 'free', to: 'team' });
    assert.deepEqual(e.changes.name, { from: null, to: 'Patched' });
    assert.ok(!('updated_at' in e.changes));
  });

  it('PATCH password: old sessions end, the new password works, the audit says only that it changed', async () => {
    const u = await user();
    const next = newPassword();
    assert.equal((await api.patch(`/api/admin/users/${u.id}`, { password: next }, { admin: true })).status, 200);
    assertError(await api.post('/api/auth/refresh', { refresh_token: u.refresh }), 401);
    assertError(await api.login(u.email, u.password), 401);
    assert.equal((await api.login(u.email, next)).status, 200);
    const audit = await api.get(`/api/admin/audit?action=admin.user_update&target_id=${u.id}`, { admin: true });
    assert.ok(!audit.text.includes(next));
    assert.ok(audit.body.data[0].changes.password, 'the change is recorded');
  });

  it('DELETE: the user\'s keys and sessions stop at once; the record stays, marked deleted', async () => {
    const u = await user();
    const key = await api.createKey(u.access);
    const acct = await api.createKey(u.access, { scopes: ['account'] });
    assert.equal((await api.chat(key.key)).status, 200);
    assert.equal((await api.get('/api/keys', { token: acct.key })).status, 200);
    const del = await api.del(`/api/admin/users/${u.id}`, { admin: true });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.body.status, 'deleted');
    assertError(await api.chat(key.key), 401);
    assertError(await api.get('/api/keys', { token: acct.key }), 401);
    assertError(await api.get('/api/auth/me', { token: u.access }), 401);
    assertError(await api.post('/api/auth/refresh', { refresh_token: u.refresh }), 401);
    assertError(await api.login(u.email, u.password), 401);
    assert.equal((await api.get(`/api/admin/users/${u.id}`, { admin: true })).body.status, 'deleted');
    assertError(await api.del(`/api/admin/users/${u.id}`, { admin: true }), 404);
    assertError(await api.patch(`/api/admin/users/${u.id}`, { tier: 'pro' }, { admin: true }), 404);
    const keys = await api.get(`/api/admin/users/${u.id}/keys`, { admin: true });
    assert.ok(keys.body.data.every((k: any) => k.status === 'revoked'));
    // Deleted users are hidden from the default listing and found with status=deleted.
    assert.equal((await api.get(`/api/admin/users?q=${u.id}`, { admin: true })).body.total, 0);
    assert.equal((await api.get(`/api/admin/users?q=${u.id}&status=deleted`, { admin: true })).body.total, 1);
    // The address is free again.
    await api.adminCreateUser({ email: u.email });
  });

  it('an admin cannot delete their own account through the admin API', async () => {
    const admin = await user({ role: 'admin' });
    assertBadRequest(await api.del(`/api/admin/users/${admin.id}`, { token: admin.access }), 'cannot_delete_self');
  });
});

describe('provisioned keys', () => {
  it('POST /api/admin/users/{id}/keys: the secret once, usable by the user, listed for them, audited; admin revocation is immediate', async () => {
    const u = await user();
    const res = await api.post(`/api/admin/users/${u.id}/keys`, { name: 'provisioned', allowed_models: ['mock/*'] }, { admin: true });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.key, /^sk-sy-/);
    assert.equal(res.body.user_id, u.id);
    assert.equal((await api.chat(res.body.key)).status, 200);
    const mine = await api.get('/api/keys', { token: u.access });
    assert.ok(mine.body.data.some((k: any) => k.id === res.body.id));
    assert.ok(!mine.text.includes(res.body.key));
    const listed = await api.get(`/api/admin/users/${u.id}/keys`, { admin: true });
    assert.ok(listed.body.data.some((k: any) => k.id === res.body.id));
    assert.ok(!listed.text.includes(res.body.key));
    const audit = await api.get(`/api/admin/audit?action=admin.key_create&target_id=${res.body.id}`, { admin: true });
    assert.equal(audit.body.total, 1);
    assert.equal(audit.body.data[0].changes.user_id, u.id);
    const revoke = await api.del(`/api/admin/keys/${res.body.id}`, { admin: true });
    assert.equal(revoke.status, 200);
    assertError(await api.chat(res.body.key), 401, 'key_revoked');
    assertError(await api.del('/api/admin/keys/key_nobody', { admin: true }), 404);
    assertBadRequest(await api.post(`/api/admin/users/${u.id}/keys`, { name: 'x', org_id: 'org_x' }, { admin: true }));
    assertError(await api.post('/api/admin/users/usr_nobody/keys', { name: 'x' }, { admin: true }), 404);
    await api.del(`/api/admin/users/${u.id}`, { admin: true });
    assertError(await api.post(`/api/admin/users/${u.id}/keys`, { name: 'x' }, { admin: true }), 404, 'user_not_found');
  });
});

describe('stats and growth', () => {
  it('stats: counts by role, tier and status agree with the listing', async () => {
    await user({ role: 'admin', tier: 'pro' });
    const stats = (await api.get('/api/admin/users/stats', { admin: true })).body;
    const live = (await api.get('/api/admin/users?limit=1', { admin: true })).body.total;
    const deleted = (await api.get('/api/admin/users?limit=1&status=deleted', { admin: true })).body.total;
    const admins = (await api.get('/api/admin/users?limit=1&role=admin&status=active', { admin: true })).body.total;
    assert.equal(stats.total, live);
    assert.equal(stats.by_status.deleted ?? 0, deleted);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((s, n) => s + n, 0);
    assert.equal(sum(stats.by_role), live + deleted);
    assert.equal(sum(stats.by_tier), live + deleted);
    assert.equal(sum(stats.by_status), live + deleted);
    assert.ok(stats.by_role.admin >= admins);
  });

  it('growth: one zero-filled entry per UTC day ending today; series + users_before = every user', async () => {
    const db = server.services.database.db;
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
    await sql`insert into users (id, email, created_at, updated_at) values (${`usr_old_${tag()}`}, ${uniqueEmail('old')}, ${threeDaysAgo}, now())`.execute(db);
    const res = await api.get('/api/admin/users/growth?days=7', { admin: true });
    assert.equal(res.status, 200, res.text);
    const g = res.body;
    assert.equal(g.days, 7);
    assert.equal(g.series.length, 7);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(g.series.at(-1).date, today);
    for (let i = 1; i < 7; i++) assert.equal(Date.parse(g.series[i].date) - Date.parse(g.series[i - 1].date), 86_400_000);
    const day = (d: Date) => g.series.find((s: any) => s.date === d.toISOString().slice(0, 10)).new_users;
    assert.equal(day(threeDaysAgo), 1);
    assert.equal(day(new Date(Date.now() - 5 * 86_400_000)), 0, 'zero-filled');
    const all = Number((await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    assert.equal(g.series.reduce((s: number, d: any) => s + d.new_users, 0) + g.users_before, all);
    assert.equal((await api.get('/api/admin/users/growth?days=1', { admin: true })).body.series.length, 1);
    assert.equal((await api.get('/api/admin/users/growth', { admin: true })).body.series.length, 30, 'default 30 days');
    for (const bad of ['0', '367', 'abc', '1.5', '-3']) assertBadRequest(await api.get(`/api/admin/users/growth?days=${bad}`, { admin: true }));
  });
});

describe('deletion by email domain', () => {
  it('dry run (the default) shows the matches and deletes nothing; dry_run=false deletes them all at once', async () => {
    const domain = `bulk-${tag()}.test`;
    const victims = [await user({ email: `a@${domain}` }), await user({ email: `b@${domain}` }), await user({ email: `c@${domain.toUpperCase()}` })];
    const keys = await Promise.all(victims.map((v) => api.createKey(v.access)));
    const bystanders = [await user({ email: `a@sub.${domain}` }), await user({ email: `a@x${domain}` })];
    const preview = await api.del(`/api/admin/users/by-domain/${domain.toUpperCase()}`, { admin: true });
    assert.equal(preview.status, 200, preview.text);
    assert.equal(preview.body.dry_run, true);
    assert.equal(preview.body.domain, domain);
    assert.equal(preview.body.matched, 3);
    assert.equal(preview.body.deleted, 0);
    assert.deepEqual(preview.body.sample.map((s: any) => s.id).sort(), victims.map((v) => v.id).sort());
    const explicit = await api.del(`/api/admin/users/by-domain/${domain}?dry_run=true`, { admin: true });
    assert.equal(explicit.body.deleted, 0);
    for (const [i, v] of victims.entries()) {
      assert.equal((await api.get('/api/auth/me', { token: v.access })).status, 200, 'nothing deleted by the preview');
      assert.equal((await api.chat(keys[i].key)).status, 200);
    }
    const run = await api.del(`/api/admin/users/by-domain/${domain}?dry_run=false`, { admin: true, headers: { 'x-request-id': 'req-bulk-1' } });
    assert.equal(run.status, 200, run.text);
    assert.deepEqual([run.body.dry_run, run.body.matched, run.body.deleted], [false, 3, 3]);
    for (const [i, v] of victims.entries()) {
      assertError(await api.get('/api/auth/me', { token: v.access }), 401);
      assertError(await api.chat(keys[i].key), 401);
      assertError(await api.post('/api/auth/refresh', { refresh_token: v.refresh }), 401);
    }
    for (const b of bystanders) assert.equal((await api.get('/api/auth/me', { token: b.access })).status, 200, `${b.email} untouched`);
    assert.equal((await api.get(`/api/admin/users?q=${domain}`, { admin: true })).body.total, 2, 'only the look-alike domains remain');
    const audit = await api.get('/api/admin/audit?action=admin.user_delete_by_domain&target_id=' + domain, { admin: true });
    assert.equal(audit.body.total, 1);
    assert.equal(audit.body.data[0].request_id, 'req-bulk-1');
    assert.deepEqual(audit.body.data[0].changes.user_ids.sort(), victims.map((v) => v.id).sort());
    const again = await api.del(`/api/admin/users/by-domain/${domain}?dry_run=false`, { admin: true });
    assert.deepEqual([again.body.matched, again.body.deleted], [0, 0]);
  });

  it('a protected domain -> 403 (any case), nothing deleted', async () => {
    const u = await user({ email: `boss@${PROTECTED}` });
    for (const d of [PROTECTED, PROTECTED.toUpperCase()]) {
      assertError(await api.del(`/api/admin/users/by-domain/${d}?dry_run=false`, { admin: true }), 403, 'protected_domain');
      assertError(await api.del(`/api/admin/users/by-domain/${d}`, { admin: true }), 403, 'protected_domain');
    }
    assert.equal((await api.get('/api/auth/me', { token: u.access })).status, 200);
  });

  it('bad domains and dry_run values -> 400', async () => {
    for (const d of ['localhost', 'no_underscores.test', '%25.test', '-.-', 'a'.repeat(90) + '.test', 'example.c'])
      assertBadRequest(await api.del(`/api/admin/users/by-domain/${d}`, { admin: true }));
    assertBadRequest(await api.del('/api/admin/users/by-domain/example.test?dry_run=no', { admin: true }));
  });
});

describe('audit log', () => {
  it('filters by exact action, by prefix (auth.*), by actor; pages with a stable total', async () => {
    const admin = await user({ role: 'admin' });
    const target = await user();
    for (let i = 0; i < 5; i++) {
      const r = await api.patch(`/api/admin/users/${target.id}`, { name: `n${i}` }, { token: admin.access, headers: { 'x-request-id': `req-audit-${target.id}-${i}` } });
      assert.equal(r.status, 200);
    }
    const exact = await api.get(`/api/admin/audit?action=admin.user_update&target_id=${target.id}`, { admin: true });
    assert.equal(exact.body.total, 5);
    for (const e of exact.body.data) {
      assert.equal(e.actor_type, 'user');
      assert.equal(e.actor_id, admin.id);
      assert.equal(e.target_type, 'user');
      assert.equal(e.target_id, target.id);
      assert.match(e.request_id, new RegExp(`^req-audit-${target.id}-\\d$`));
    }
    assert.deepEqual(
      exact.body.data.map((e: any) => e.request_id),
      [4, 3, 2, 1, 0].map((i) => `req-audit-${target.id}-${i}`),
      'newest first',
    );
    const byActor = await api.get(`/api/admin/audit?actor_id=${admin.id}&action=admin.*`, { admin: true });
    assert.equal(byActor.body.total, 5);
    const auth = await api.get(`/api/admin/audit?action=${encodeURIComponent('auth.*')}&target_id=${target.id}`, { admin: true });
    assert.ok(auth.body.total >= 1);
    assert.ok(auth.body.data.every((e: any) => e.action.startsWith('auth.')));
    // Paging
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.get(`/api/admin/audit?target_id=${target.id}&action=admin.user_update&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { admin: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.total, 5);
      seen.push(...res.body.data.map((e: any) => e.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, exact.body.data.map((e: any) => e.id));
    // Time window
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal((await api.get(`/api/admin/audit?target_id=${target.id}&from=${encodeURIComponent(future)}`, { admin: true })).body.total, 0);
    const everything = (await api.get(`/api/admin/audit?target_id=${target.id}`, { admin: true })).body.total;
    assert.ok(everything >= exact.body.total + auth.body.total + 1, 'admin.user_create is there too');
    assert.equal((await api.get(`/api/admin/audit?target_id=${target.id}&to=${encodeURIComponent(future)}`, { admin: true })).body.total, everything);
  });

  it(
    'audit paging does not skip entries written within the same millisecond',
    async () => {
      const target = `tgt_${tag()}`;
      for (const us of ['100', '400', '700'])
        await sql`insert into audit_log (created_at, actor_type, action, target_id) values (${`2022-02-02 02:02:02.123${us}+00`}::timestamptz, 'system', 'test.micro', ${target})`.execute(server.services.database.db);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: any = await api.get(`/api/admin/audit?target_id=${target}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { admin: true });
        seen.push(...res.body.data.map((e: any) => e.id));
        cursor = res.body.next_cursor;
      } while (cursor && seen.length < 10);
      assert.equal(seen.length, 3);
    },
  );

  it('bad audit queries -> 400', async () => {
    for (const q of ['from=yesterday', 'to=2024-13-01', 'limit=0', 'limit=1000', 'cursor=%21%21', `action=${'a'.repeat(101)}`])
      assertBadRequest(await api.get(`/api/admin/audit?${q}`, { admin: true }));
  });
});

describe('who may call /api/admin', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/admin/users'],
    ['GET', '/api/admin/users/stats'],
    ['GET', '/api/admin/users/growth?days=3'],
    ['GET', '/api/admin/audit'],
    ['GET', '/api/admin/users/usr_nobody'],
    ['POST', '/api/admin/users', { email: 'guard-probe@example.test' }],
    ['DELETE', '/api/admin/users/by-domain/nobody-here.test'],
  ];
  const call = (method: string, path: string, body: unknown, init: { token?: string; admin?: boolean; headers?: Record<string, string> }) =>
    api.call(path, { method, ...(body !== undefined ? { json: body } : {}), ...init });

  it('401 without credentials or with bad ones', async () => {
    for (const [method, path, body] of routes) {
      assertError(await call(method, path, body, {}), 401, 'missing_api_key');
      assertError(await call(method, path, body, { token: 'sk-sy-' + 'z'.repeat(43) }), 401);
      assertError(await call(method, path, body, { token: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' }), 401);
    }
  });

  it("403 for a normal user's session and keys", async () => {
    const u = await user();
    const acct = await api.createKey(u.access, { scopes: ['inference', 'account'] });
    const inf = await api.createKey(u.access);
    for (const [method, path, body] of routes) {
      assertError(await call(method, path, body, { token: u.access }), 403, 'admin_required', 'permission_error');
      assertError(await call(method, path, body, { token: acct.key }), 403, 'admin_required');
      assertError(await call(method, path, body, { headers: { 'x-api-key': inf.key } }), 403, 'scope_required');
    }
  });

  it('200 for an admin user (promoted live) and for ADMIN_API_KEY; a demotion is effective at once', async () => {
    const u = await user();
    const acct = await api.createKey(u.access, { scopes: ['account'] });
    assertError(await api.get('/api/admin/users', { token: u.access }), 403);
    assert.equal((await api.patch(`/api/admin/users/${u.id}`, { role: 'admin' }, { admin: true })).status, 200);
    for (const [method, path, body] of routes.filter(([m]) => m === 'GET')) {
      const expected = path.endsWith('usr_nobody') ? 404 : 200;
      assert.equal((await call(method, path, body, { token: u.access })).status, expected, `${path} with an admin session`);
      assert.equal((await call(method, path, body, { token: acct.key })).status, expected, `${path} with an admin's account key`);
      assert.equal((await call(method, path, body, { admin: true })).status, expected, `${path} with ADMIN_API_KEY`);
    }
    assert.equal((await api.get('/api/admin/users', { headers: { 'x-api-key': (await import('../support/server.ts')).ADMIN_KEY } })).status, 200, 'x-api-key works for the operator key');
    const byAdminUser = await api.post('/api/admin/users', { email: uniqueEmail('by-admin-user') }, { token: u.access });
    assert.equal(byAdminUser.status, 201);
    const audit = await api.get(`/api/admin/audit?action=admin.user_create&target_id=${byAdminUser.body.id}`, { admin: true });
    assert.deepEqual([audit.body.data[0].actor_type, audit.body.data[0].actor_id], ['user', u.id]);
    await api.patch(`/api/admin/users/${u.id}`, { role: 'user' }, { admin: true });
    assertError(await api.get('/api/admin/users', { token: u.access }), 403, 'admin_required');
    assertError(await api.get('/api/admin/users', { token: acct.key }), 403, 'admin_required');
  });
});

describe('bad input on admin user routes', () => {
  it('-> 400 invalid_request_error', async () => {
    const u = await user();
    const creates: unknown[] = [
      {},
      { email: 'not-an-email' },
      { email: `${'a'.repeat(250)}@example.test` },
      { email: uniqueEmail(), password: 'short' },
      { email: uniqueEmail(), role: 'root' },
      { email: uniqueEmail(), tier: 'gold' },
      { email: uniqueEmail(), name: 'x'.repeat(101) },
      { email: uniqueEmail(), status: 'active' },
      { email: 123 },
    ];
    for (const body of creates) assertBadRequest(await api.post('/api/admin/users', body, { admin: true }));
    assertBadRequest(await api.call('/api/admin/users', { method: 'POST', body: '{"email":', admin: true }), 'invalid_json');
    const patches: unknown[] = [
      {},
      { status: 'deleted' },
      { role: 'owner' },
      { tier: 1 },
      { trial_expires_at: 'soon' },
      { limits: { rpm: 0 } },
      { limits: { budget: { amount_usd: 5, period: 'hour' } } },
      { password: 'short' },
      { email: 'new@example.test' },
    ];
    for (const body of patches) assertBadRequest(await api.patch(`/api/admin/users/${u.id}`, body, { admin: true }));
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'role=root', 'tier=gold', 'status=gone', 'cursor=not-base64-json', `q=${'q'.repeat(201)}`])
      assertBadRequest(await api.get(`/api/admin/users?${q}`, { admin: true }));
    assertBadRequest(await api.get(`/api/admin/users?cursor=${Buffer.from('["nope","x"]').toString('base64url')}`, { admin: true }), 'invalid_cursor');
    assertBadRequest(await api.get(`/api/admin/users/${'u'.repeat(65)}`, { admin: true }));
  });
});
