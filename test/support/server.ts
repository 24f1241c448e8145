/**
 * Starts a real Switchyard server on a loopback port for tests: embedded in-memory PGlite by default, or
 * PostgreSQL (a fresh schema per server) when TEST_DATABASE_URL is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildServer, type Server } from '../../src/server.ts';

export const ADMIN_KEY = 'sk-test-admin-0123456789abcdef';

export interface TestServer extends Server {
  url: string;
  /** An official OpenAI SDK client pointed at this server. */
  openai(apiKey?: string, opts?: Partial<ConstructorParameters<typeof OpenAI>[0]>): OpenAI;
  /** fetch against this server with the admin key (unless headers override it). */
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Share a PostgreSQL schema with another test server (fleet tests); the server that created it drops it. */
  schema?: string;
}

export async function startTestServer(overrides: Partial<ConfigInput> = {}, env: Record<string, string> = {}, opts: TestServerOptions = {}): Promise<TestServer & { schema?: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const pgUrl = process.env.TEST_DATABASE_URL;
  const schema = pgUrl ? (opts.schema ?? `t_${randomBytes(6).toString('hex')}`) : undefined;
  const config = loadConfig(env, {
    databaseUrl: pgUrl ?? 'memory://',
    adminApiKey: ADMIN_KEY,
    logLevel: (process.env.TEST_LOG_LEVEL as ConfigInput['logLevel']) ?? 'silent',
    dataDir,
    port: 0,
    host: '127.0.0.1',
    // Credit accounting is opt-in for tests (money tests pass credits: { mode: 'prepaid' }), so tests of other
    // features can call /v1 with fresh user keys.
    credits: { mode: 'off' },
    ...overrides,
    // Tests sign up and refresh many times from 127.0.0.1: per-IP sign-up/refresh limits stay out of the way
    // unless a test sets them.
    loginLimits: { registerPerIp: 1_000_000, refreshPerIp: 1_000_000, ...overrides.loginLimits },
  });
  const server = await buildServer(config, { databaseSchema: schema });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    ...server,
    schema,
    url,
    openai: (apiKey = ADMIN_KEY, opts = {}) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 20_000, ...opts }),
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization') && !headers.has('x-api-key')) headers.set('authorization', `Bearer ${ADMIN_KEY}`);
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set('content-type', 'application/json');
      }
      return fetch(url + path, { ...init, headers, body });
    },
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (pgUrl && schema && !opts.schema) {
        const client = new pg.Client({ connectionString: pgUrl });
        await client.connect();
        await client.query(`drop schema if exists ${schema} cascade`);
        await client.end();
      }
    },
  };
}
