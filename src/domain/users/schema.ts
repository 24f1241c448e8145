/** Zod schemas for user-facing bodies and views (validation, types and OpenAPI in one place). */
import { z } from 'zod';
import { PasswordSchema } from '../auth/passwords.ts';

export const EmailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be a valid email address'))
  .transform((e) => e.toLowerCase());

export const NameSchema = z.string().trim().min(1).max(100);
export const RoleSchema = z.enum(['user', 'admin']);
export const TierSchema = z.enum(['free', 'pro', 'power', 'team']);
export const StatusSchema = z.enum(['active', 'suspended', 'deleted']);

export const LimitsSchema = z
  .object({
    rpm: z.number().int().positive().max(1_000_000).optional(),
    tpm: z.number().int().positive().max(1_000_000_000).optional(),
    rpd: z.number().int().positive().max(100_000_000).optional(),
    max_concurrency: z.number().int().positive().max(10_000).optional(),
    budget: z
      .object({ amount_usd: z.number().positive().max(1_000_000_000), period: z.enum(['day', 'week', 'month', 'total']) })
      .strict()
      .optional(),
  })
  .strict();

export const UserViewSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: RoleSchema,
  tier: TierSchema,
  status: StatusSchema,
  limits: LimitsSchema.nullable(),
  trial_expires_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const RegisterSchema = z.object({ email: EmailSchema, password: PasswordSchema, name: NameSchema.optional() }).strict();
export const LoginSchema = z.object({ email: EmailSchema, password: z.string().min(1).max(256) }).strict();

export const AdminCreateUserSchema = z
  .object({
    email: EmailSchema,
    password: PasswordSchema.optional(),
    name: NameSchema.optional(),
    role: RoleSchema.optional(),
    tier: TierSchema.optional(),
  })
  .strict();

export const AdminUpdateUserSchema = z
  .object({
    name: NameSchema.nullable().optional(),
    role: RoleSchema.optional(),
    tier: TierSchema.optional(),
    status: z.enum(['active', 'suspended']).optional(),
    limits: LimitsSchema.nullable().optional(),
    trial_expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
    password: PasswordSchema.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to update' });
