/**
 * Secrets never leak. A server in a child process (log level debug, mail to the log) runs every identity
 * flow; then every response body, every log line and the stored rows (audit_log above all) are scanned for
 * the passwords, API-key secrets, refresh tokens and access tokens that went through it. A secret may appear
 * only in the one response that issued it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startLoggedServer, type LoggedServer } from '../support/log-server.ts';
import { Api, newPassword, uniqueEmail, roomyPlans } from '../support/identity.ts';

let server: LoggedServer;
let api: Api;

/** Every secret that went through the server, by kind. */
const passwords = new Set<string>();
const keySecrets = new Set<string>();
const refreshTokens = new Set<string>();
const accessTokens = new Set<string>();

before(async () => {
  server = await startLoggedServer({ logLevel: 'debug', ...roomyPlans() });
  api = new Api(server.url);
});
after(async () => server?.stop());

function track(body: any) {
  if (!body || typeof body !== 'object') return;
  if (typeof body.refresh_token === 'string') refreshTokens.add(body.refresh_token);
  if (typeof body.access_token === 'string') accessTokens.add(body.access_token);
  if (typeof body.key === 'string' && body.key.startsWith('sk-sy-')) keySecrets.add(body.key);
}

async function runFlows() {
  // Accounts
  const email = uniqueEmail('secret');
  const p1 = newPassword();
  passwords.add(p1);
  const reg = await api.post('/api/auth/register', { email, password: p1, name: 'Secretive' });
  assert.equal(reg.status, 201, reg.text);
  track(reg.body);
  const userId = reg.body.user.id;
  const wrong = `wrong-${newPassword()}`;
  passwords.add(wrong);
  assert.equal((await api.login(email, wrong)).status, 401);
  assert.equal((await api.login(uniqueEmail('ghost'), wrong)).status, 401);
  const login = await api.login(email, p1);
  track(login.body);
  const r1 = reg.body.refresh_token;
  const refreshed = await api.post('/api/auth/refresh', { refresh_token: r1 });
  assert.equal(refreshed.status, 200);
  track(refreshed.body);
  assert.equal((await api.post('/api/auth/refresh', { refresh_token: r1 })).status, 401, 'reuse');
  // A second sign-in to log out: logout ends that session's access tokens too, and the flows below need one.
  const spare = await api.login(email, p1);
  track(spare.body);
  assert.equal((await api.post('/api/auth/logout', { refresh_token: spare.body.refresh_token })).status, 204);
  const access = login.body.access_token;
  assert.equal((await api.get('/api/auth/me', { token: access })).status, 200);

  // Keys
  const k1 = await api.post('/api/keys', { name: 'k1', scopes: ['inference', 'account'], allowed_ips: ['127.0.0.1'] }, { token: access });
  assert.equal(k1.status, 201);
  track(k1.body);
  await api.get('/v1/models', { token: k1.body.key });
  await api.get('/v1/models', { headers: { 'x-api-key': k1.body.key } });
  await api.chat(k1.body.key);
  await api.get('/api/keys', { token: k1.body.key });
  await api.get(`/api/keys/${k1.body.id}`, { token: access });
  await api.patch(`/api/keys/${k1.body.id}`, { name: 'k1-renamed' }, { token: access });
  const rot = await api.post(`/api/keys/${k1.body.id}/rotate`, {}, { token: access });
  track(rot.body);
  assert.equal((await api.get('/v1/models', { token: k1.body.key })).status, 401);
  await api.get('/v1/models', { token: rot.body.key });
  await api.del(`/api/keys/${k1.body.id}`, { token: access });
  assert.equal((await api.get('/v1/models', { token: rot.body.key })).status, 401);
  const restricted = await api.post('/api/keys', { name: 'restricted', allowed_ips: ['10.0.0.0/8'], allowed_models: ['mock/tools'] }, { token: access });
  track(restricted.body);
  assert.equal((await api.get('/v1/models', { token: restricted.body.key })).status, 403);

  // Password change and reset (the mail goes to the log: that is the reset token's intended channel).
  const p2 = newPassword();
  passwords.add(p2);
  const changed = await api.post('/api/auth/password', { current_password: p1, new_password: p2 }, { token: access });
  assert.equal(changed.status, 200, changed.text);
  track(changed.body);
  assert.equal((await api.post('/api/auth/password-reset/request', { email })).status, 202);
  const mailLine = await waitForLog((l) => l.includes('Reset your Switchyard password'));
  const token = /\\n\\n([A-Za-z0-9_-]{43})\\n\\n/.exec(mailLine)?.[1];
  assert.ok(token, 'the log mailer carries the reset token');
  const p3 = newPassword();
  passwords.add(p3);
  assert.equal((await api.post('/api/auth/password-reset/confirm', { token, password: p3 })).status, 200);
  const after = await api.login(email, p3);
  assert.equal(after.status, 200);
  track(after.body);

  // Bad input carrying secrets
  const longPw = 'L'.repeat(300);
  passwords.add(longPw);
  assert.equal((await api.post('/api/auth/register', { email: uniqueEmail(), password: longPw })).status, 400);
  assert.equal((await api.call('/api/auth/login', { method: 'POST', body: `{"email":"${email}","password":"${p3}"` })).status, 400);
  assert.equal((await api.post('/api/auth/login', { email, password: p3, extra: true })).status, 400);
  assert.equal((await api.get('/api/auth/me', { token: `${access}x` })).status, 401);

  // Admin
  const p4 = newPassword();
  const p5 = newPassword();
  passwords.add(p4).add(p5);
  const created = await api.post('/api/admin/users', { email: uniqueEmail('admin-made'), password: p4 }, { admin: true });
  assert.equal(created.status, 201);
  assert.equal((await api.patch(`/api/admin/users/${created.body.id}`, { password: p5 }, { admin: true })).status, 200);
  const prov = await api.post(`/api/admin/users/${created.body.id}/keys`, { name: 'provisioned' }, { admin: true });
  track(prov.body);
  await api.get(`/api/admin/users/${created.body.id}/keys`, { admin: true });
  await api.get(`/api/admin/users/${userId}`, { admin: true });
  await api.get('/api/admin/audit?limit=200', { admin: true });
  await api.del(`/api/admin/users/${created.body.id}`, { admin: true });
  assert.equal((await api.get('/v1/models', { token: prov.body.key })).status, 401);
}

async function waitForLog(pred: (line: string) => boolean, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = server.stdout.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error('log line not found');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const allSecrets = () => [
  ...[...passwords].map((s) => ['password', s] as const),
  ...[...keySecrets].map((s) => ['key secret', s] as const),
  ...[...refreshTokens].map((s) => ['refresh token', s] as const),
  ...[...accessTokens].map((s) => ['access token', s] as const),
];

describe('no response, log line or stored audit entry contains a secret', () => {
  before(async () => {
    await runFlows();
  });

  it('the flows produced the secrets we scan for', () => {
    assert.ok(passwords.size >= 7);
    assert.ok(keySecrets.size >= 4);
    assert.ok(refreshTokens.size >= 4);
    assert.ok(accessTokens.size >= 4);
    assert.ok(server.stdout.length > 5, 'the server logged');
    for (const line of server.stdout) assert.doesNotThrow(() => JSON.parse(line), `a JSON log line: ${line.slice(0, 200)}`);
  });

  it('responses: a key secret or refresh token only in the one response that issued it; passwords never', () => {
    const texts = api.seen.map((s) => s.text);
    for (const [kind, secret] of allSecrets()) {
      const hits = api.seen.filter((s) => s.text.includes(secret));
      if (kind === 'password') {
        assert.equal(hits.length, 0, `a password appears in: ${hits.map((h) => `${h.path} ${h.status}`).join(', ')}`);
        continue;
      }
      // Access JWTs are deterministic (same user, family and second -> same token), so a refresh within the
      // same second may hand out an identical one; key secrets and refresh tokens are unique per issue.
      if (kind !== 'access token') assert.equal(hits.length, 1, `${kind} appears in ${hits.length} responses: ${hits.map((h) => `${h.path} ${h.status}`).join(', ')}`);
      for (const hit of hits) {
        const body = JSON.parse(hit.text);
        assert.ok(body.key === secret || body.refresh_token === secret || body.access_token === secret, `${kind} outside its own field in ${hit.path}`);
      }
    }
    assert.ok(texts.length > 20, `${texts.length} responses scanned`);
  });

  it('logs: no password, key secret, refresh token or access token in any line', () => {
    const log = server.stdout.join('\n') + '\n' + server.stderr.join('\n');
    for (const [kind, secret] of allSecrets()) assert.ok(!log.includes(secret), `${kind} in the log`);
    // Not even the key body after its public prefix.
    for (const secret of keySecrets) assert.ok(!log.includes(secret.slice(10, 30)), 'key secret fragment in the log');
  });

  it('stored rows: audit_log holds no secret; tokens, keys and passwords are stored only as hashes', async () => {
    const dump = await server.dump();
    const audit = JSON.stringify(dump.audit_log);
    assert.ok((dump.audit_log as unknown[]).length >= 10, 'the flows were audited');
    for (const [kind, secret] of allSecrets()) assert.ok(!audit.includes(secret), `${kind} in audit_log`);
    const everything = JSON.stringify(dump);
    for (const [kind, secret] of allSecrets()) assert.ok(!everything.includes(secret), `${kind} stored in the clear`);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const keyHashes = new Set((dump.api_keys as any[]).map((k) => k.secret_hash));
    // Every secret's hash is stored, except the one replaced by rotation.
    assert.equal([...keySecrets].filter((s) => keyHashes.has(sha(s))).length, keySecrets.size - 1);
    const rtHashes = new Set((dump.refresh_tokens as any[]).map((r) => r.token_hash));
    for (const r of refreshTokens) assert.ok(rtHashes.has(sha(r)), 'refresh tokens are stored as SHA-256');
    for (const u of dump.users as any[]) if (u.password_hash) assert.match(u.password_hash, /^\$argon2id\$/);
  });
});
