/** Every migration, in order. Add new ones here; names sort in the order they must run. */
import type { Migration } from 'kysely';
import * as m001 from './001_initial.ts';

export const migrations: Record<string, Migration> = {
  '001_initial': m001,
};
