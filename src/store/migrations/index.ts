/** Every migration, in order. Add new ones here; names sort in the order they must run. */
import type { Migration } from 'kysely';
import * as m001 from './001_initial.ts';
import * as m002 from './002_identity.ts';
import * as m003 from './003_observability.ts';
import * as m004 from './004_money.ts';
import * as m005 from './005_billing.ts';
import * as m006 from './006_request_log_scale.ts';
import * as m007 from './007_request_log_write_cost.ts';
import * as m008 from './008_credential_indexes.ts';

export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_identity': m002,
  '003_observability': m003,
  '004_money': m004,
  '005_billing': m005,
  '006_request_log_scale': m006,
  '007_request_log_write_cost': m007,
  '008_credential_indexes': m008,
};
