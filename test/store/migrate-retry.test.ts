/**
 * Which migration failures openDatabase's migrate() retries: those caused by another tenant's schema being
 * dropped while kysely's Migrator introspects every schema (seen in CI with test servers sharing a database).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { droppedElsewhere } from '../../src/store/db.ts';

describe('migrate() retries a read that another schema vanished under', () => {
  it('retries a schema dropped mid-read, and a table of another schema', () => {
    assert.equal(droppedElsewhere({ code: '3F000', message: 'schema "t_1" does not exist' }, 't_2'), true);
    assert.equal(droppedElsewhere({ code: '42P01', message: 'relation "t_ef80cb7d0ae7.org_invites" does not exist' }, 't_2'), true);
    assert.equal(droppedElsewhere({ code: '42P01', message: 'relation "t_1.users" does not exist' }, undefined), true);
  });

  it('does not retry a missing table of its own schema, an unqualified one, or other failures', () => {
    assert.equal(droppedElsewhere({ code: '42P01', message: 'relation "t_2.users" does not exist' }, 't_2'), false);
    assert.equal(droppedElsewhere({ code: '42P01', message: 'relation "public.users" does not exist' }, undefined), false);
    assert.equal(droppedElsewhere({ code: '42P01', message: 'relation "users" does not exist' }, 't_2'), false);
    assert.equal(droppedElsewhere({ code: '42601', message: 'syntax error' }, 't_2'), false);
    assert.equal(droppedElsewhere(undefined, 't_2'), false);
  });
});
