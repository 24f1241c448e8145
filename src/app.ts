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
import { createAuthenticator, type Authenticator } from './domain/auth/principal.ts';
import { ensureBootstrapKey } from './domain/auth/bootstrap-key.ts';
import { buildProviderRegistry, type ProviderRegistry } from './providers/registry.ts';
import { closeTransport } from './providers/transport.ts';
import { Gateway } from './gateway/index.ts';

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
  startedAt: Date;
  /** False until migrations ran and the catalog loaded; /ready reports it. */
  ready: boolean;
}

export interface CreateServicesOptions {
  log?: Logger;
  /** PostgreSQL schema (tests isolate runs this way). */
  databaseSchema?: string;
}

export async function createServices(config: Config, opts: CreateServicesOptions = {}): Promise<Services> {
  const log = opts.log ?? createLogger(config.logLevel);
  const registry = buildProviderRegistry(config);
  let adminKey = config.adminApiKey;
  if (!adminKey) {
    const boot = ensureBootstrapKey(config.dataDir);
    adminKey = boot.key;
    log.warn({ path: boot.path }, boot.created ? 'ADMIN_API_KEY is not set: generated a bootstrap admin key and saved it to this file' : 'ADMIN_API_KEY is not set: using the bootstrap admin key saved in this file');
  }
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema: opts.databaseSchema });
  try {
    await database.migrate();
    const catalog = new Catalog(database.db);
    const seed = loadSeedCatalog();
    await catalog.importModels(seed.models, 'seed');
    const metrics = createMetrics();
    const requestLog = new RequestLogWriter(database.db, config.requestLog, metrics, log);
    const gateway = new Gateway(config, registry, catalog, metrics, requestLog);
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
      auth: createAuthenticator(adminKey),
      startedAt: new Date(),
      ready: true,
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}

/** Flushes what is queued and releases connections. Call after the HTTP server stopped accepting. */
export async function closeServices(s: Services): Promise<void> {
  s.ready = false;
  await s.requestLog.drain();
  await s.database.close();
  await closeTransport();
}
