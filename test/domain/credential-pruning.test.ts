/**
 * Expired sign-in credentials are deleted; what can still be used, or still detects a stolen token's reuse,
 * stays. Checked against a running server: its sessions keep working through HTTP after a pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
const json = async (r: Response): Promise<any> => r.json();
const DAY = 86_400_000;

before(async () => {
  server = await startTestServer();
});
after(async () => server?.stop());

describe('pruning expired credentials', () => {
  it('deletes refresh and reset tokens a day past expiry, and nothing a session or reuse detection needs', async () => {
    const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email: `prune${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
    // Rotate once: the first token is now used (and still detects reuse until it expires).
    const rotated = await json(await server.request('/api/auth/refresh', { method: 'POST', json: { refresh_token: reg.refresh_token }, headers: { authorization: 'none' } }));
    assert.equal(typeof rotated.refresh_token, 'string');

    const db = server.services.database.db;
    const now = Date.now();
    const row = (id: string, expiresIn: number, revoked = false) => ({
      id,
      user_id: reg.user.id,
      family_id: `fam_${id}`,
      token_hash: `hash_${id}`,
      expires_at: new Date(now + expiresIn),
      revoked_at: revoked ? new Date(now - DAY) : null,
    });
    await db.insertInto('refresh_tokens').values([row('rt_old', -2 * DAY), row('rt_old_revoked', -3 * DAY, true), row('rt_just_expired', -DAY / 2), row('rt_revoked_live', DAY, true)]).execute();
    await db
      .insertInto('password_resets')
      .values([
        { id: 'pwr_old', user_id: reg.user.id, token_hash: 'pwr_hash_old', expires_at: new Date(now - 2 * DAY) },
        { id: 'pwr_live', user_id: reg.user.id, token_hash: 'pwr_hash_live', expires_at: new Date(now + 3_600_000) },
      ])
      .execute();

    const result = await server.services.credentialPruner.run(now);
    assert.deepEqual(result, { refresh_tokens: 2, password_resets: 1 });
    const left = (await db.selectFrom('refresh_tokens').select('id').where('user_id', '=', reg.user.id).execute()).map((r) => r.id);
    for (const id of ['rt_just_expired', 'rt_revoked_live']) assert.ok(left.includes(id), `${id} stays`);
    assert.equal(left.length, 4, 'the two real tokens of the session stay too');
    assert.deepEqual((await db.selectFrom('password_resets').select('id').where('user_id', '=', reg.user.id).execute()).map((r) => r.id), ['pwr_live']);

    // The session still refreshes, and replaying the rotated-away token is still caught as reuse.
    const again = await server.request('/api/auth/refresh', { method: 'POST', json: { refresh_token: rotated.refresh_token }, headers: { authorization: 'none' } });
    assert.equal(again.status, 200);
    const latest = (await json(again)).refresh_token;
    const replay = await server.request('/api/auth/refresh', { method: 'POST', json: { refresh_token: reg.refresh_token }, headers: { authorization: 'none' } });
    assert.equal(replay.status, 401);
    // Reuse ends the whole family: the newest token stops working, which needs the used row to have been kept.
    const afterReuse = await server.request('/api/auth/refresh', { method: 'POST', json: { refresh_token: latest }, headers: { authorization: 'none' } });
    assert.equal(afterReuse.status, 401);
  });
});
