/**
 * The application's parts, created once per process (or per test server) and closed in reverse order.
 * Start-up: database -> migrations -> catalog (seed, then load into memory) -> providers -> gateway.
 */
import type { Config } from './config/schema.ts';
import { openDatabase, type DatabaseHandle } from './store/db.ts';
import { createMetrics, type Metrics } from './telemetry/metrics.ts';
import { RequestLogWriter } from './telemetry/request-log.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Catalog } from './domain/catalog/catalog.ts';
import { loadSeedCatalog } from './domain/catalog/seed.ts';
import { Authenticator } from './domain/auth/principal.ts';
import { AccessTokens } from './domain/auth/jwt.ts';
import { resolveJwtSecret } from './domain/auth/jwt-secret.ts';
import { LoginGuard } from './domain/auth/login-guard.ts';
import { SessionService, type OnRegistered } from './domain/auth/sessions.ts';
import { AuditLog } from './domain/audit/audit.ts';
import { CacheBus, redisBusTransport, type BusTransport } from './domain/cache-bus.ts';
import { PgNotifyChannel } from './store/pg-notify.ts';
import { KeyService } from './domain/keys/keys.ts';
import { KeyUsageTracker } from './domain/keys/usage-tracker.ts';
import { createMailer, type Mailer } from './domain/mail/mailer.ts';
import { OrgService } from './domain/orgs/orgs.ts';
import { UserService } from './domain/users/users.ts';
import { openRedis, type RedisHandle } from './store/redis.ts';
import { EndedSessions } from './domain/auth/ended-sessions.ts';
import { CredentialPruner } from './domain/auth/credential-pruning.ts';
import { Ledger } from './domain/credits/ledger.ts';
import { CreditBook } from './domain/credits/book.ts';
import { ChargeWriter } from './domain/credits/charge-writer.ts';
import { EmbeddedMaintenance } from './store/maintenance.ts';
import { MemoryReservations, RedisReservations } from './domain/credits/reservations.ts';
import { usdToPico } from './domain/credits/units.ts';
import { ensureBootstrapKey } from './domain/auth/bootstrap-key.ts';
import { buildProviderRegistry, type ProviderRegistry } from './providers/registry.ts';
import { closeTransport, configureTransport } from './providers/transport.ts';
import { Gateway } from './gateway/index.ts';
import { createObservability, type Observability } from './domain/ops/observability.ts';
import { plansFor, type Plans } from './domain/plans/plans.ts';
import { BillingService } from './domain/billing/billing.ts';

export interface Services {
  config: Config;
  log: Logger;
  database: DatabaseHandle;
  metrics: Metrics;
  requestLog: RequestLogWriter;
  catalog: Catalog;
  catalogAsOf: string;
  registry: ProviderRegistry;
  gateway: Gateway;
  auth: Authenticator;
  redis: RedisHandle | undefined;
  bus: CacheBus;
  users: UserService;
  keys: KeyService;
  keyUsage: KeyUsageTracker;
  orgs: OrgService;
  sessions: SessionService;
  /** Deletes refresh and password-reset tokens a day past their expiry (hourly). */
  credentialPruner: CredentialPruner;
  audit: AuditLog;
  mailer: Mailer;
  accessTokens: AccessTokens;
  ledger: Ledger;
  credits: CreditBook;
  charges: ChargeWriter;
  /** Analyze and vacuum for the embedded database, whose single-user PostgreSQL has no autovacuum. */
  maintenance: EmbeddedMaintenance | undefined;
  /** Health, incidents, rollups, retention, client events, operator caches, tracing (issue 5). */
  observability: Observability;
  /** Plans and tiers (limits, features, allowances); the same instance gateway admission reads. */
  plans: Plans;
  /** Stripe checkout, subscriptions and webhooks (stub mode without STRIPE_SECRET_KEY). */
  billing: BillingService;
  startedAt: Date;
  /** False until migrations ran and the catalog loaded; /ready reports it. */
  ready: boolean;
}

export interface CreateServicesOptions {
  log?: Logger;
  /** PostgreSQL schema (tests isolate runs this way). */
  databaseSchema?: string;
}

/**
 * How cache invalidations reach other instances and a running server: Redis when configured, else PostgreSQL's
 * LISTEN/NOTIFY (one channel per schema), else nowhere (the embedded database has one process by design).
 */
function busTransport(config: Config, database: DatabaseHandle, redis: RedisHandle | undefined, schema: string | undefined, log: Logger): BusTransport | undefined {
  if (redis) return redisBusTransport(redis);
  if (database.kind !== 'postgres' || !config.databaseUrl) return undefined;
  // Channel names are identifiers: at most 63 bytes.
  const channel = (schema ? `switchyard_invalidate_${schema}` : 'switchyard_invalidate').slice(0, 63);
  return new PgNotifyChannel(database.db, { url: config.databaseUrl, channel, onError: (err) => log.warn({ err }, 'cache invalidation listener (PostgreSQL LISTEN) failed; reconnecting') });
}

export async function createServices(config: Config, opts: CreateServicesOptions = {}): Promise<Services> {
  const log = opts.log ?? createLogger(config.logLevel);
  const registry = buildProviderRegistry(config);
  configureTransport({ connectTimeoutMs: config.upstream.connectTimeoutMs });
  let adminKey = config.adminApiKey;
  if (!adminKey) {
    const boot = ensureBootstrapKey(config.dataDir);
    adminKey = boot.key;
    log.warn({ path: boot.path }, boot.created ? 'ADMIN_API_KEY is not set: generated a bootstrap admin key and saved it to this file' : 'ADMIN_API_KEY is not set: using the bootstrap admin key saved in this file');
  }
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema: opts.databaseSchema });
  let redis: RedisHandle | undefined;
  let bus: CacheBus | undefined;
  try {
    await database.migrate();
    if (config.redisUrl) redis = await openRedis(config.redisUrl, (err, heldBack) => log.error({ err, ...(heldBack ? { similar_errors_held_back: heldBack } : {}) }, 'redis error'), config.redisStartupTimeoutMs);
    bus = new CacheBus(busTransport(config, database, redis, opts.databaseSchema, log));
    await bus.start();
    const catalog = new Catalog(database.db);
    const seed = loadSeedCatalog();
    await catalog.importModels(seed.models, 'seed');
    const metrics = createMetrics({ maxModelsPerProvider: config.metrics.maxModelsPerProvider });
    const requestLog = new RequestLogWriter(database.db, config.requestLog, metrics, log);
    const ledger = new Ledger(database.db, bus);
    const credits = new CreditBook(redis ? new RedisReservations(redis) : new MemoryReservations(), ledger, bus);
    const charges = new ChargeWriter(ledger, credits, log, { batchSize: config.credits.chargeBatchSize, flushIntervalMs: config.credits.chargeFlushIntervalMs });
    const maintenance = database.kind === 'embedded' ? new EmbeddedMaintenance(database.db, log) : undefined;
    maintenance?.start();
    const gateway = new Gateway(config, registry, catalog, metrics, requestLog, bus, redis, credits, log);
    // Open breakers tripped by other instances before this one started.
    await gateway.resilience.breakers.restore().catch((err) => log.warn({ err }, 'could not restore circuit breakers from Redis'));
    const { breakers, stats } = gateway.resilience;
    const breakerInspector = { state: (provider: string, model: string) => breakers.view(`${provider}/${model}`)?.state ?? ('closed' as const) };
    const observability = await createObservability({ config, db: database.db, metrics, log, requestLog, catalog, registry, breakers: breakerInspector });

    const jwt = await resolveJwtSecret({ configured: config.jwtSecret, dataDir: config.dataDir, embedded: database.kind === 'embedded', db: database.db });
    if (jwt.source === 'database') log.warn('JWT_SECRET is not set: using a generated secret stored in the database, so read access to the settings table is enough to forge sessions; set JWT_SECRET in production');
    const accessTokens = new AccessTokens(jwt.secret, config.accessTokenTtlSeconds);
    const users = new UserService(database.db, bus);
    const orgs = new OrgService(database.db);
    const keys = new KeyService(database.db, orgs, bus);
    const keyUsage = new KeyUsageTracker(database.db, log);
    keyUsage.start();
    const audit = new AuditLog(database.db);
    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, log });
    const trialCredit = config.trial.creditUsd > 0 ? usdToPico(config.trial.creditUsd) : 0n;
    // Inside the registration transaction (one commit with the account); the caches hear of it after commit.
    const grantTrial: OnRegistered = async (user, trx) => {
      if (trialCredit <= 0n) return;
      const acct = await ledger.account({ type: 'user', id: user.id }, trx);
      await ledger.post(trx, acct.id, { kind: 'trial', amount: trialCredit, reason: 'trial credit', actor: { type: 'system', id: null }, referenceType: 'trial', referenceId: user.id });
      return () => ledger.changed(acct.id);
    };
    const credentialPruner = new CredentialPruner(database.db, log);
    credentialPruner.start();
    const endedSessions = new EndedSessions(database.db, bus, config.accessTokenTtlSeconds, (err) => log.warn({ err }, 'could not reload ended sessions'));
    await endedSessions.load();
    const sessions = new SessionService(database.db, users, accessTokens, new LoginGuard(config.loginLimits, redis), audit, mailer, config, grantTrial, endedSessions);
    const auth = new Authenticator(adminKey, keys, users, accessTokens, keyUsage, bus, endedSessions);

    // Operators see and clear these through /api/admin (observability's cache registry and resolve endpoint).
    observability.caches.register({ name: 'api_keys', description: 'Authenticated API keys (in-process LRU)', stats: () => ({ entries: auth.keyCache.size }), clear: () => auth.keyCache.clear() });
    observability.caches.register({ name: 'circuit_breakers', description: 'Circuit breaker state per deployment', stats: () => ({ tracked: breakers.list().length }), clear: () => void breakers.resetAll() });
    observability.caches.register({ name: 'deployment_stats', description: 'Measured latency and throughput per deployment', clear: () => stats.clear() });
    observability.caches.register({
      name: 'rate_limits',
      description: 'Request and token counters of per-user and per-key rate limits, and the anonymous per-IP limit (clearing starts every window afresh; in-flight concurrency is kept)',
      stats: () => ({ backend: redis ? 'redis' : 'memory' }),
      clear: () => gateway.limits.clear(),
    });
    const plans = plansFor(config);
    const billing = new BillingService({ db: database.db, ledger, users, audit, plans, config, log });
    return {
      config,
      log,
      database,
      metrics,
      requestLog,
      catalog,
      catalogAsOf: seed.asOf,
      registry,
      gateway,
      auth,
      redis,
      bus,
      users,
      keys,
      keyUsage,
      orgs,
      sessions,
      credentialPruner,
      audit,
      mailer,
      accessTokens,
      ledger,
      credits,
      charges,
      maintenance,
      observability,
      plans,
      billing,
      startedAt: new Date(),
      ready: true,
    };
  } catch (err) {
    await bus?.close();
    await redis?.close();
    await database.close();
    throw err;
  }
}

/** Flushes what is queued and releases connections. Call after the HTTP server stopped accepting. */
export async function closeServices(s: Services): Promise<void> {
  s.ready = false;
  await s.charges.drain();
  await s.requestLog.drain();
  await s.observability.close();
  await s.keyUsage.stop();
  await s.credentialPruner.stop();
  await s.maintenance?.stop();
  await s.bus.close();
  await s.redis?.close();
  await s.database.close();
  await closeTransport();
}
