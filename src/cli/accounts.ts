/**
 * Operator commands for shell access: `switchyard users ...` and `switchyard keys ...`. They run the same
 * domain services as the API (validation, hashing, audit) against the configured database. With the
 * embedded database, stop the server first: PGlite serves one process at a time.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { closeServices, createServices, type Services } from '../app.ts';
import pino from 'pino';
import { loggerOptions } from '../telemetry/logger.ts';
import { userView } from '../domain/users/records.ts';
import { AdminCreateUserSchema, RoleSchema, TierSchema } from '../domain/users/schema.ts';
import { KeyCreateSchema } from '../domain/keys/schema.ts';
import { describeIssues } from '../config/load.ts';
import { AppError } from '../errors.ts';

type ConfigSource = () => Config;

const CLI_ACTOR = { type: 'system' as const, id: 'cli' };

async function withServices<T>(config: ConfigSource, fn: (s: Services) => Promise<T>): Promise<T> {
  // Logs go to stderr: stdout carries only the JSON result, so `switchyard keys create ... | jq -r .key` works.
  const services = await createServices(config(), { log: pino(loggerOptions('warn'), pino.destination(2)) });
  try {
    return await fn(services);
  } finally {
    await closeServices(services);
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new AppError(400, 'invalid_request_error', describeIssues(r.error), 'invalid_arguments');
  return r.data;
}

const print = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');

/** The first line of standard input, without its line ending (as `docker login --password-stdin` reads it). */
async function firstLineOfStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    text += chunk;
    if (text.includes('\n') || text.length > 4096) break;
  }
  const line = text.split(/\r?\n/, 1)[0];
  if (!line) throw new AppError(400, 'invalid_request_error', '--password-stdin read no password from standard input.', 'invalid_arguments');
  return line;
}

async function userByIdOrEmail(s: Services, ref: string) {
  if (ref.includes('@')) {
    const found = await s.users.findForLogin(ref);
    if (!found) throw new AppError(404, 'not_found_error', `No user with email ${ref}.`, 'user_not_found');
    return found.user;
  }
  return s.users.get(ref);
}

export function registerAccountCommands(program: Command, config: ConfigSource): void {
  const users = program.command('users').description('Manage user accounts');

  users
    .command('create')
    .description('Create a user')
    .requiredOption('--email <email>')
    .option('--password-stdin', 'read the initial password from standard input (first line); keeps it out of shell history and ps')
    .option('--password <password>', 'initial password on the command line (visible to other local users; prefer --password-stdin)')
    .option('--name <name>')
    .option('--role <role>', 'user | admin', 'user')
    .option('--tier <tier>', 'free | pro | power | team', 'free')
    .action((opts) =>
      withServices(config, async (s) => {
        if (opts.password !== undefined && opts.passwordStdin) throw new AppError(400, 'invalid_request_error', 'Give the password either with --password or with --password-stdin, not both.', 'invalid_arguments');
        const password = opts.passwordStdin ? await firstLineOfStdin() : opts.password;
        const input = parse(AdminCreateUserSchema, { email: opts.email, password, name: opts.name, role: opts.role, tier: opts.tier });
        const user = await s.users.create(input);
        await s.audit.record({ actor: CLI_ACTOR, action: 'admin.user_create', targetType: 'user', targetId: user.id, changes: { email: user.email, role: user.role } });
        print(userView(user));
      }),
    );

  users
    .command('list')
    .description('List users (newest first)')
    .option('--q <text>', 'search email, name or id')
    .option('--role <role>')
    .option('--tier <tier>')
    .option('--limit <n>', 'page size', '50')
    .action((opts) =>
      withServices(config, async (s) => {
        const q = parse(
          z.object({ q: z.string().optional(), role: RoleSchema.optional(), tier: TierSchema.optional(), limit: z.coerce.number().int().min(1).max(200) }),
          opts,
        );
        const page = await s.users.search(q);
        print({ total: page.total, data: page.data.map(userView) });
      }),
    );

  users
    .command('promote')
    .description('Give a user the admin role')
    .argument('<user>', 'user id or email')
    .action((ref: string) =>
      withServices(config, async (s) => {
        const user = await userByIdOrEmail(s, ref);
        const { after } = await s.users.update(user.id, { role: 'admin' });
        await s.audit.record({ actor: CLI_ACTOR, action: 'admin.user_update', targetType: 'user', targetId: user.id, changes: { role: { from: user.role, to: 'admin' } } });
        print(userView(after));
      }),
    );

  const keys = program.command('keys').description('Manage API keys');

  keys
    .command('create')
    .description('Create an API key for a user; prints the secret once')
    .requiredOption('--user <user>', 'user id or email')
    .requiredOption('--name <name>')
    .option('--models <globs>', 'comma-separated model allowlist, e.g. "openai/*,mock/*"')
    .option('--expires-at <iso>', 'expiry (ISO 8601)')
    .action((opts) =>
      withServices(config, async (s) => {
        const user = await userByIdOrEmail(s, opts.user);
        const input = parse(KeyCreateSchema, {
          name: opts.name,
          allowed_models: opts.models ? String(opts.models).split(',').map((m: string) => m.trim()) : undefined,
          expires_at: opts.expiresAt,
        });
        const created = await s.keys.create(user.id, input, 'cli');
        await s.audit.record({ actor: CLI_ACTOR, action: 'admin.key_create', targetType: 'api_key', targetId: created.id, changes: { user_id: user.id } });
        print(created);
      }),
    );

  keys
    .command('list')
    .description("List a user's keys (never the secrets)")
    .requiredOption('--user <user>', 'user id or email')
    .action((opts) =>
      withServices(config, async (s) => {
        const user = await userByIdOrEmail(s, opts.user);
        print(await s.keys.listForUser(user.id));
      }),
    );

  keys
    .command('revoke')
    .description('Revoke a key')
    .argument('<id>', 'key id')
    .action((id: string) =>
      withServices(config, async (s) => {
        const revoked = await s.keys.revokeById(id);
        await s.audit.record({ actor: CLI_ACTOR, action: 'admin.key_revoke', targetType: 'api_key', targetId: id });
        print(revoked);
      }),
    );
}
