/** The `switchyard` command line: serve, migrate. */
import { Command } from 'commander';
import { loadConfig, ConfigError } from './config/load.ts';
import { buildServer } from './server.ts';
import { openDatabase } from './store/db.ts';
import { VERSION } from './version.ts';
import { registerAccountCommands } from './cli/accounts.ts';
import { AppError } from './errors.ts';
import { RedisUnreachableError } from './store/redis.ts';

function configOrExit() {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const program = new Command().name('switchyard').description('Self-hosted AI gateway').version(VERSION);

program
  .command('serve', { isDefault: true })
  .description('Start the HTTP server (PORT, default 8080)')
  .option('-p, --port <port>', 'port to listen on (overrides PORT)')
  .option('--host <host>', 'interface to bind (overrides HOST)')
  .action(async (opts: { port?: string; host?: string }) => {
    const config = configOrExit();
    if (opts.port !== undefined) {
      if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535) {
        process.stderr.write(`switchyard: --port must be an integer between 0 and 65535\n`);
        process.exit(2);
      }
      config.port = Number(opts.port);
    }
    if (opts.host) config.host = opts.host;
    let server: Awaited<ReturnType<typeof buildServer>>;
    try {
      server = await buildServer(config);
    } catch (err) {
      if (!(err instanceof RedisUnreachableError)) throw err;
      process.stderr.write(`switchyard: ${err.message}\n`);
      process.exit(1);
    }
    const log = server.services.log;
    // The bound port, not the requested one: `--port 0` picks a free port, and the log line is how to find it.
    const port = await server.listen({ port: config.port, host: config.host });
    const enabled = server.services.registry.enabled().map((p) => p.provider.id);
    log.info({ port, database: server.services.database.kind, providers: enabled, accept_handles: server.acceptHandles }, 'switchyard is serving');
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests and flushing logs');
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, 30_000);
      force.unref();
      await server.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });

program
  .command('migrate')
  .description('Apply pending database migrations and exit')
  .action(async () => {
    const config = configOrExit();
    const handle = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
    try {
      const result = await handle.migrate();
      const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await handle.close();
    }
  });

registerAccountCommands(program, configOrExit);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Expected failures (bad arguments, unknown ids, duplicates) print one line, not a stack trace.
  if (err instanceof AppError) {
    process.stderr.write(`switchyard: ${err.message}\n`);
    process.exit(err.status === 404 ? 3 : 2);
  }
  throw err;
}
