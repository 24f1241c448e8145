import { z } from 'zod';
import { LimitsSchema } from '../users/schema.ts';
import { IpRuleSchema, ModelGlobSchema, ReferrerGlobSchema } from './access.ts';
import { SCOPES } from './records.ts';

const list = <T extends z.ZodType>(item: T) => z.array(item).max(100);
const future = z.iso.datetime({ offset: true }).refine((d) => Date.parse(d) > Date.now(), 'must be in the future');

export const KeyCreateSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    expires_at: future.optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).optional().describe('inference (default): /v1; account: the /api routes of the owner'),
    allowed_models: list(ModelGlobSchema).optional(),
    allowed_ips: list(IpRuleSchema).optional(),
    allowed_referrers: list(ReferrerGlobSchema).optional(),
    limits: LimitsSchema.optional(),
    org_id: z.string().min(1).max(64).optional().describe('Create an organization-owned key (owners and admins of the org)'),
  })
  .strict();
export type KeyCreate = z.infer<typeof KeyCreateSchema>;

export const KeyUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    expires_at: future.nullable().optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).optional(),
    allowed_models: list(ModelGlobSchema).nullable().optional(),
    allowed_ips: list(IpRuleSchema).nullable().optional(),
    allowed_referrers: list(ReferrerGlobSchema).nullable().optional(),
    limits: LimitsSchema.nullable().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to update' });
export type KeyUpdate = z.infer<typeof KeyUpdateSchema>;

export const KeyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  last_four: z.string(),
  org_id: z.string().nullable(),
  user_id: z.string(),
  scopes: z.array(z.string()),
  allowed_models: z.array(z.string()).nullable(),
  allowed_ips: z.array(z.string()).nullable(),
  allowed_referrers: z.array(z.string()).nullable(),
  limits: LimitsSchema.nullable(),
  status: z.enum(['active', 'revoked', 'expired']),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

/** A key with its secret: returned once, at creation or rotation. */
export const KeyWithSecretSchema = KeyViewSchema.extend({ key: z.string().describe('The secret. Shown only now; store it safely.') });
