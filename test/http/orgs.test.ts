/**
 * Organizations through HTTP: creation, invitations by email (visible only to the invitee), accept and
 * decline, roles (owner | admin | member) and what each may do, the last-owner rule, org-owned keys and
 * usage attributed to the org in request_logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, fund, uniqueEmail, type Account, roomyPlans } from '../support/identity.ts';

let server: TestServer;
let api: Api;

before(async () => {
  server = await startTestServer(roomyPlans());
  api = new Api(server.url, server.services);
});
after(async () => server?.stop());

async function createOrg(owner: Account, name = 'Acme') {
  const res = await api.post('/api/orgs', { name }, { token: owner.access });
  assert.equal(res.status, 201, res.text);
  await fund(server.services, { type: 'org', id: res.body.id });
  return res.body as { id: string; name: string };
}

async function invite(orgId: string, by: Account, email: string, role: 'admin' | 'member' = 'member') {
  const res = await api.post(`/api/orgs/${orgId}/invites`, { email, role }, { token: by.access });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** Owner plus an org admin and a member who accepted their invitations. */
async function team() {
  const [owner, admin, member] = await Promise.all([api.register(), api.register(), api.register()]);
  const org = await createOrg(owner);
  for (const [who, role] of [[admin, 'admin'], [member, 'member']] as const) {
    const inv = await invite(org.id, owner, who.email, role);
    assert.equal((await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: who.access })).status, 200);
  }
  return { org, owner, admin, member };
}

describe('create and invite', () => {
  it('create: 201, the creator is owner; it lists only for members', async () => {
    const owner = await api.register();
    const outsider = await api.register();
    const res = await api.post('/api/orgs', { name: '  Acme Corp  ' }, { token: owner.access });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, /^org_/);
    assert.equal(res.body.name, 'Acme Corp');
    assert.equal(res.body.created_by, owner.id);
    assert.equal(res.body.role, 'owner');
    const mine = await api.get('/api/orgs', { token: owner.access });
    assert.deepEqual(mine.body.data.map((o: any) => [o.id, o.role]), [[res.body.id, 'owner']]);
    assert.deepEqual((await api.get('/api/orgs', { token: outsider.access })).body.data, []);
    const members = await api.get(`/api/orgs/${res.body.id}/members`, { token: owner.access });
    assert.deepEqual(members.body.data.map((m: any) => [m.user_id, m.email, m.role]), [[owner.id, owner.email, 'owner']]);
  });

  it('an invitation by email is visible to the invitee only (and to the org managers)', async () => {
    const owner = await api.register();
    const other = await api.register();
    const org = await createOrg(owner, 'Invites Inc');
    const email = uniqueEmail('invitee');
    const inv = await invite(org.id, owner, email.toUpperCase(), 'admin');
    assert.match(inv.id, /^inv_/);
    assert.equal(inv.email, email, 'lowercased');
    assert.equal(inv.role, 'admin');
    assert.equal(inv.status, 'pending');
    assert.equal(inv.org_name, 'Invites Inc');
    assert.equal(inv.invited_by, owner.id);
    assert.ok(Date.parse(inv.expires_at) > Date.now());
    // The invitee signs up later with that address (in another case) and finds the invitation.
    const invitee = await api.register({ email: email.toUpperCase() });
    const seen = await api.get('/api/orgs/invites', { token: invitee.access });
    assert.deepEqual(seen.body.data.map((i: any) => [i.id, i.org_name]), [[inv.id, 'Invites Inc']]);
    assert.deepEqual((await api.get('/api/orgs/invites', { token: other.access })).body.data, []);
    assert.deepEqual((await api.get('/api/orgs/invites', { token: owner.access })).body.data, []);
    const managed = await api.get(`/api/orgs/${org.id}/invites`, { token: owner.access });
    assert.deepEqual(managed.body.data.map((i: any) => i.id), [inv.id]);
    // One pending invitation per address; members cannot be invited again.
    assertError(await api.post(`/api/orgs/${org.id}/invites`, { email }, { token: owner.access }), 409, 'invite_pending');
    assertError(await api.post(`/api/orgs/${org.id}/invites`, { email: owner.email }, { token: owner.access }), 409, 'already_member');
  });

  it('accept: the invitee becomes a member with the invited role, once', async () => {
    const owner = await api.register();
    const invitee = await api.register();
    const org = await createOrg(owner);
    const inv = await invite(org.id, owner, invitee.email, 'member');
    const res = await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: invitee.access });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'accepted');
    assert.deepEqual((await api.get('/api/orgs', { token: invitee.access })).body.data.map((o: any) => [o.id, o.role]), [[org.id, 'member']]);
    assert.equal((await api.get(`/api/orgs/${org.id}`, { token: invitee.access })).body.role, 'member');
    const members = await api.get(`/api/orgs/${org.id}/members`, { token: invitee.access });
    assert.deepEqual(members.body.data.map((m: any) => m.role).sort(), ['member', 'owner']);
    assertError(await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: invitee.access }), 404, 'invite_not_found');
    assertError(await api.post(`/api/orgs/invites/${inv.id}/decline`, {}, { token: invitee.access }), 404, 'invite_not_found');
    assert.deepEqual((await api.get('/api/orgs/invites', { token: invitee.access })).body.data, [], 'no longer pending');
    const audit = await api.get(`/api/admin/audit?target_id=${org.id}&action=org.*`, { admin: true });
    assert.deepEqual(audit.body.data.map((e: any) => e.action).reverse(), ['org.create', 'org.invite', 'org.invite_accept']);
  });

  it('decline: no membership; the invitation cannot be accepted afterwards', async () => {
    const owner = await api.register();
    const invitee = await api.register();
    const org = await createOrg(owner);
    const inv = await invite(org.id, owner, invitee.email);
    const res = await api.post(`/api/orgs/invites/${inv.id}/decline`, {}, { token: invitee.access });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'declined');
    assert.deepEqual((await api.get('/api/orgs', { token: invitee.access })).body.data, []);
    assertError(await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: invitee.access }), 404, 'invite_not_found');
    assertError(await api.get(`/api/orgs/${org.id}`, { token: invitee.access }), 404, 'org_not_found');
    // A new invitation can be sent after a decline.
    await invite(org.id, owner, invitee.email);
  });

  it('a withdrawn invitation cannot be accepted', async () => {
    const owner = await api.register();
    const invitee = await api.register();
    const org = await createOrg(owner);
    const inv = await invite(org.id, owner, invitee.email);
    const del = await api.del(`/api/orgs/${org.id}/invites/${inv.id}`, { token: owner.access });
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'revoked');
    assertError(await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: invitee.access }), 404);
    assertError(await api.del(`/api/orgs/${org.id}/invites/${inv.id}`, { token: owner.access }), 404, 'invite_not_found');
  });

  it('an expired invitation cannot be accepted', async () => {
    const owner = await api.register();
    const invitee = await api.register();
    const org = await createOrg(owner);
    const inv = await invite(org.id, owner, invitee.email);
    await server.services.database.db.updateTable('org_invites').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', inv.id).execute();
    assert.deepEqual((await api.get('/api/orgs/invites', { token: invitee.access })).body.data, []);
    assertError(await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: invitee.access }), 404);
  });
});

describe('roles', () => {
  it('a member cannot invite, rename, see or create org keys, see invitations, change roles or remove others', async () => {
    const { org, owner, admin, member } = await team();
    const t = member.access;
    assert.equal((await api.get(`/api/orgs/${org.id}`, { token: t })).status, 200);
    assert.equal((await api.get(`/api/orgs/${org.id}/members`, { token: t })).status, 200);
    assertError(await api.post(`/api/orgs/${org.id}/invites`, { email: uniqueEmail() }, { token: t }), 403, 'org_role_required', 'permission_error');
    assertError(await api.patch(`/api/orgs/${org.id}`, { name: 'Hijacked' }, { token: t }), 403, 'org_role_required');
    assertError(await api.get(`/api/keys?org_id=${org.id}`, { token: t }), 403, 'org_role_required');
    assertError(await api.post('/api/keys', { name: 'sneaky', org_id: org.id }, { token: t }), 403, 'org_role_required');
    assertError(await api.get(`/api/orgs/${org.id}/invites`, { token: t }), 403, 'org_role_required');
    assertError(await api.patch(`/api/orgs/${org.id}/members/${member.id}`, { role: 'owner' }, { token: t }), 403, 'org_owner_required');
    assertError(await api.del(`/api/orgs/${org.id}/members/${admin.id}`, { token: t }), 403, 'org_role_required');
    assertError(await api.del(`/api/orgs/${org.id}`, { token: t }), 403, 'org_owner_required');
    // An org key exists but a member cannot see it.
    const key = await api.createKey(owner.access, { org_id: org.id });
    assertError(await api.get(`/api/keys/${key.id}`, { token: t }), 404, 'key_not_found');
    assertError(await api.del(`/api/keys/${key.id}`, { token: t }), 404, 'key_not_found');
    assert.equal((await api.get(`/api/orgs/${org.id}`, { token: owner.access })).body.name, 'Acme', 'not renamed');
  });

  it('an org admin manages invitations, the name and org keys, but not roles, owners or the org itself', async () => {
    const { org, owner, admin } = await team();
    const t = admin.access;
    assert.equal((await api.patch(`/api/orgs/${org.id}`, { name: 'Renamed by admin' }, { token: t })).body.name, 'Renamed by admin');
    await invite(org.id, admin, uniqueEmail('from-admin'));
    assert.equal((await api.get(`/api/orgs/${org.id}/invites`, { token: t })).status, 200);
    const key = await api.createKey(t, { org_id: org.id });
    assert.equal(key.view.org_id, org.id);
    const ownerKey = await api.createKey(owner.access, { org_id: org.id });
    assert.equal((await api.get(`/api/keys/${ownerKey.id}`, { token: t })).status, 200, 'managers manage every org key');
    assertError(await api.patch(`/api/orgs/${org.id}/members/${admin.id}`, { role: 'owner' }, { token: t }), 403, 'org_owner_required');
    assertError(await api.del(`/api/orgs/${org.id}/members/${owner.id}`, { token: t }), 403, 'org_owner_required');
    assertError(await api.del(`/api/orgs/${org.id}`, { token: t }), 403, 'org_owner_required');
  });

  it('the owner changes roles; the last owner can neither leave nor step down', async () => {
    const { org, owner, admin, member } = await team();
    const set = (id: string, role: string, by = owner) => api.patch(`/api/orgs/${org.id}/members/${id}`, { role }, { token: by.access });
    const p = await set(member.id, 'admin');
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.body, { user_id: member.id, role: 'admin' });
    assert.equal((await api.get(`/api/orgs/${org.id}/invites`, { token: member.access })).status, 200, 'the new role is effective at once');
    await set(member.id, 'member');
    assertError(await api.get(`/api/orgs/${org.id}/invites`, { token: member.access }), 403);

    assertError(await api.del(`/api/orgs/${org.id}/members/${owner.id}`, { token: owner.access }), 409, 'last_owner');
    assertError(await set(owner.id, 'admin'), 409, 'last_owner');
    assertError(await set('usr_nobody', 'admin'), 404, 'member_not_found');
    // With a second owner, the first may leave.
    assert.equal((await set(admin.id, 'owner')).status, 200);
    assert.equal((await api.del(`/api/orgs/${org.id}/members/${owner.id}`, { token: owner.access })).status, 200);
    assertError(await api.get(`/api/orgs/${org.id}`, { token: owner.access }), 404);
    assertError(await api.del(`/api/orgs/${org.id}/members/${admin.id}`, { token: admin.access }), 409, 'last_owner');
    const members = await api.get(`/api/orgs/${org.id}/members`, { token: admin.access });
    assert.deepEqual(members.body.data.map((m: any) => [m.user_id, m.role]).sort(), [[admin.id, 'owner'], [member.id, 'member']].sort());
  });

  it('a member may leave; managers remove members; the removed see nothing of the org', async () => {
    const { org, owner, admin, member } = await team();
    const left = await api.del(`/api/orgs/${org.id}/members/${member.id}`, { token: member.access });
    assert.equal(left.status, 200, left.text);
    assertError(await api.get(`/api/orgs/${org.id}`, { token: member.access }), 404);
    assert.deepEqual((await api.get('/api/orgs', { token: member.access })).body.data, []);
    assert.equal((await api.del(`/api/orgs/${org.id}/members/${admin.id}`, { token: owner.access })).status, 200);
    assertError(await api.get(`/api/orgs/${org.id}/members`, { token: admin.access }), 404);
  });
});

describe('org-owned keys', () => {
  it('usage through an org key lands in request_logs.org_id', async () => {
    const { org, owner, admin } = await team();
    const key = await api.createKey(owner.access, { org_id: org.id, name: 'org key' });
    assert.equal(key.view.org_id, org.id);
    assert.equal(key.view.user_id, owner.id);
    // Org keys are listed under the org, not among personal keys.
    assert.ok(!(await api.get('/api/keys', { token: owner.access })).body.data.some((k: any) => k.id === key.id));
    const orgKeys = await api.get(`/api/keys?org_id=${org.id}`, { token: admin.access });
    assert.deepEqual(orgKeys.body.data.map((k: any) => k.id), [key.id]);
    const personal = await api.createKey(owner.access);
    for (const k of [key.key, key.key, personal.key]) assert.equal((await api.chat(k)).status, 200);
    await server.services.requestLog.flush();
    const rows = await server.services.database.db
      .selectFrom('request_logs')
      .select(['api_key_id', 'user_id', 'org_id'])
      .where('api_key_id', 'in', [key.id, personal.id])
      .execute();
    assert.equal(rows.length, 3);
    assert.deepEqual(
      rows.filter((r) => r.api_key_id === key.id).map((r) => [r.user_id, r.org_id]),
      [
        [owner.id, org.id],
        [owner.id, org.id],
      ],
    );
    assert.deepEqual(rows.filter((r) => r.api_key_id === personal.id).map((r) => r.org_id), [null]);
  });

  it("removing a member revokes the org keys they created, at once; deleting the org revokes all of its keys", async () => {
    const { org, owner, admin } = await team();
    const adminKey = await api.createKey(admin.access, { org_id: org.id });
    const ownerKey = await api.createKey(owner.access, { org_id: org.id });
    const adminPersonal = await api.createKey(admin.access);
    for (const k of [adminKey, ownerKey, adminPersonal]) assert.equal((await api.chat(k.key)).status, 200);
    const removed = await api.del(`/api/orgs/${org.id}/members/${admin.id}`, { token: owner.access });
    assert.deepEqual(removed.body, { removed: true, revoked_keys: 1 });
    assertError(await api.chat(adminKey.key), 401);
    assert.equal((await api.chat(ownerKey.key)).status, 200);
    assert.equal((await api.chat(adminPersonal.key)).status, 200, 'personal keys are untouched');
    const del = await api.del(`/api/orgs/${org.id}`, { token: owner.access });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.body.deleted, true);
    assert.equal(del.body.revoked_keys, 1);
    assertError(await api.chat(ownerKey.key), 401);
    assertError(await api.get(`/api/orgs/${org.id}`, { token: owner.access }), 404);
    assert.deepEqual((await api.get('/api/orgs', { token: owner.access })).body.data, []);
  });

  it('org keys cannot be created for an org one does not belong to (404)', async () => {
    const { org } = await team();
    const outsider = await api.register();
    assertError(await api.post('/api/keys', { name: 'x', org_id: org.id }, { token: outsider.access }), 404, 'org_not_found');
    assertError(await api.get(`/api/keys?org_id=${org.id}`, { token: outsider.access }), 404, 'org_not_found');
  });
});

describe('members see only their orgs', () => {
  it('each user lists exactly the orgs they belong to', async () => {
    const a = await api.register();
    const b = await api.register();
    const oa = await createOrg(a, 'A only');
    const ob = await createOrg(b, 'B only');
    const shared = await createOrg(a, 'Shared');
    const inv = await invite(shared.id, a, b.email);
    await api.post(`/api/orgs/invites/${inv.id}/accept`, {}, { token: b.access });
    const la = (await api.get('/api/orgs', { token: a.access })).body.data.map((o: any) => o.id).sort();
    const lb = (await api.get('/api/orgs', { token: b.access })).body.data.map((o: any) => o.id).sort();
    assert.deepEqual(la, [oa.id, shared.id].sort());
    assert.deepEqual(lb, [ob.id, shared.id].sort());
  });
});

describe('bad input on /api/orgs', () => {
  it('-> 400 with a precise message', async () => {
    const owner = await api.register();
    const org = await createOrg(owner);
    const t = owner.access;
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 7 }, { name: 'ok', extra: 1 }]) assertBadRequest(await api.post('/api/orgs', body, { token: t }));
    assertBadRequest(await api.call('/api/orgs', { method: 'POST', body: '{name:', token: t }), 'invalid_json');
    assertBadRequest(await api.patch(`/api/orgs/${org.id}`, { name: ['x'] }, { token: t }));
    for (const body of [{}, { email: 'nope' }, { email: `${'a'.repeat(250)}@example.test` }, { email: uniqueEmail(), role: 'owner' }, { email: uniqueEmail(), role: 3 }])
      assertBadRequest(await api.post(`/api/orgs/${org.id}/invites`, body, { token: t }));
    assertBadRequest(await api.patch(`/api/orgs/${org.id}/members/${owner.id}`, { role: 'boss' }, { token: t }));
    assertBadRequest(await api.get(`/api/orgs/${'o'.repeat(65)}`, { token: t }));
    assertBadRequest(await api.post(`/api/orgs/invites/${'i'.repeat(65)}/accept`, {}, { token: t }));
    assertError(await api.get('/api/orgs/org_doesnotexist', { token: t }), 404, 'org_not_found');
    assertError(await api.get('/api/orgs'), 401, 'missing_api_key');
    assertError(await api.get('/api/orgs', { admin: true }), 403, 'user_required');
  });
});
