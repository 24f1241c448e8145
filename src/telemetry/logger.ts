/** JSON logs (pino) with credentials redacted wherever they may appear. */
import pino, { type Logger, type LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.secretAccessKey',
  '*.secret_access_key',
  '*.access_token',
  '*.refresh_token',
  '*.key',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'switchyard' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(level: string): Logger {
  return pino(loggerOptions(level));
}

export type { Logger };

/**
 * A request's logger that becomes `parent.child(bindings, opts)` only when something logs through it. Fastify
 * gives every request a child logger, and pino builds it eagerly: the bindings are redacted and serialized, a few
 * KB of garbage per request. Most requests never log (per-request logging is off; hooks log failures only).
 */
class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly childBindings: pino.Bindings,
    private readonly opts: pino.ChildLoggerOptions,
  ) {}

  private get real(): Logger {
    return (this.made ??= this.parent.child(this.childBindings, this.opts));
  }

  get level(): string {
    return this.made?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return !this.made && this.opts.level === undefined ? this.parent.isLevelEnabled(level) : this.real.isLevelEnabled(level);
  }

  /** Below the level nothing is written, so the child need not exist. */
  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    if (this.isLevelEnabled(level)) (this.real[level] as (...a: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  child(bindings: pino.Bindings, opts?: pino.ChildLoggerOptions): Logger {
    return this.real.child(bindings, opts);
  }

  bindings(): pino.Bindings {
    return this.real.bindings();
  }
}

/** Fastify's `childLoggerFactory`: request loggers are made on first use (see LazyChildLogger). */
export function lazyChildLoggerFactory(parent: Logger, bindings: pino.Bindings, opts: pino.ChildLoggerOptions): Logger {
  return new LazyChildLogger(parent, bindings, opts) as unknown as Logger;
}
