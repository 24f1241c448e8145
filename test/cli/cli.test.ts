/**
 * The `switchyard` command line, run for real: each step spawns `node --import tsx src/main.ts ...` against
 * the embedded database (PGlite) in a fresh DATA_DIR and checks only what an operator sees: stdout, stderr
 * and the exit code. The operator flow runs in order on one DATA_DIR (PGlite serves one process at a time, so
 * never two of its steps at once); the bad-input checks use their own DATA_DIR and run alongside it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The inherited environment minus anything that would point the CLI away from a fresh embedded database. */
function cliEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ...extra };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'SWITCHYARD_CONFIG', 'ADMIN_API_KEY', 'PORT', 'HOST', 'LOG_LEVEL', 'NODE_TEST_CONTEXT']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function cli(dataDir: string, ...args: string[]): Promise<Run> {
  return cliWithInput(dataDir, undefined, ...args);
}

/** Like cli(), with `input` written to the command's standard input. */
function cliWithInput(dataDir: string, input: string | undefined, ...args: string[]): Promise<Run> {
  return cliRun(dataDir, { input }, args);
}

function cliRun(dataDir: string, { input, env = {} }: { input?: string; env?: Record<string, string> }, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: cliEnv(dataDir, env), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** pino's JSON log lines (e.g. the bootstrap admin key warning); they go to stderr and are not the message. */
function isLogLine(line: string): boolean {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && 'level' in v && 'msg' in v;
  } catch {
    return false;
  }
}

const STACK_FRAME = /^\s+at .+(\(|:\d+)/m;

/** Exit 0, no stack trace, and stdout is exactly one JSON document (nothing else mixed in). */
function okJson<T = any>(r: Run): T {
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stderr, STACK_FRAME, show(r));
  for (const line of r.stderr.split('\n').filter((l) => l.trim())) assert.ok(isLogLine(line), `unexpected stderr line: ${line}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`stdout is not one JSON document:\n${show(r)}`);
  }
}

/** A failed command: the given exit code, nothing on stdout, one human-readable line on stderr, no stack. */
function cleanFailure(r: Run, code: number, message: RegExp): void {
  assert.equal(r.code, code, show(r));
  assert.equal(r.stdout, '', show(r));
  assert.doesNotMatch(r.stderr, STACK_FRAME, show(r));
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !isLogLine(l));
  assert.equal(lines.length, 1, `expected one message line:\n${show(r)}`);
  assert.match(lines[0]!, message);
}

/** `switchyard serve --port 0` on `dataDir`; learns the bound port from its "switchyard is serving" log line. */
async function withServer<T>(dataDir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env: cliEnv(dataDir, { LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const output = () => `--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start within 30 s\n${output()}`)), 30_000);
      let pending = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        pending += c;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          if (!isLogLine(line)) continue;
          const entry = JSON.parse(line) as { msg: string; port?: number };
          if (entry.msg === 'switchyard is serving') {
            clearTimeout(timer);
            resolve(entry.port ?? -1);
          }
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}) before listening\n${output()}`));
      });
    });
    // `--port 0` binds a free port; the start-up line must name that port, not 0.
    assert.ok(Number.isInteger(port) && port > 0, `serve logged port ${port}\n${output()}`);
    return await fn(`http://127.0.0.1:${port}`);
  } finally {
    child.kill('SIGTERM');
    // Wait for a clean shutdown: the next CLI step needs the embedded database closed.
    const { code, signal } = await exited;
    assert.equal(code, 0, `serve did not shut down cleanly (code ${code}, signal ${signal})\n${output()}`);
  }
}

describe('switchyard CLI', { concurrency: true }, () => {
  describe('operator flow on one embedded database', { concurrency: 1 }, () => {
    let dataDir: string;
    let alice: { id: string; email: string };
    let bob: { id: string; email: string };
    let key: { id: string; key: string; prefix: string; last_four: string };
    const PASSWORD = 'correct horse battery staple';

    before(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    });
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    it('migrate applies every migration, then finds nothing to do', async () => {
      const first = await cli(dataDir, 'migrate');
      assert.equal(first.code, 0, show(first));
      assert.match(first.stdout, /^applied: 001_initial(, \w+)+\n$/, show(first));
      assert.doesNotMatch(first.stderr, STACK_FRAME);

      const second = await cli(dataDir, 'migrate');
      assert.equal(second.code, 0, show(second));
      assert.equal(second.stdout, 'database is up to date\n', show(second));
    });

    it('users create --role admin creates an admin', async () => {
      const r = await cli(dataDir, 'users', 'create', '--email', 'Alice@Example.com', '--role', 'admin');
      const user = okJson(r);
      assert.match(user.id, /^usr_/);
      assert.equal(user.email, 'alice@example.com');
      assert.equal(user.role, 'admin');
      assert.equal(user.status, 'active');
      alice = user;
    });

    it('users create with a password from stdin prints the user but never the password or its hash', async () => {
      const r = await cliWithInput(dataDir, `${PASSWORD}\n`, 'users', 'create', '--email', 'bob@example.com', '--password-stdin', '--name', 'Bob');
      const user = okJson(r);
      assert.equal(user.email, 'bob@example.com');
      assert.equal(user.name, 'Bob');
      assert.equal(user.role, 'user');
      assert.equal(user.tier, 'free');
      assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'the password was printed');
      assert.doesNotMatch(r.stdout, /password|\$argon2/i);
      bob = user;
    });

    it('users list shows both users, newest first, without passwords', async () => {
      const r = await cli(dataDir, 'users', 'list');
      const page = okJson<{ total: number; data: Array<{ id: string; email: string; role: string }> }>(r);
      assert.equal(page.total, 2);
      assert.deepEqual(
        page.data.map((u) => [u.id, u.email, u.role]),
        [
          [bob.id, 'bob@example.com', 'user'],
          [alice.id, 'alice@example.com', 'admin'],
        ],
      );
      assert.doesNotMatch(r.stdout, /password|\$argon2/i);
    });

    it('users promote makes a user an admin', async () => {
      const r = await cli(dataDir, 'users', 'promote', 'bob@example.com');
      const user = okJson(r);
      assert.equal(user.id, bob.id);
      assert.equal(user.role, 'admin');
    });

    it('keys create prints the secret once', async () => {
      const r = await cli(dataDir, 'keys', 'create', '--user', 'bob@example.com', '--name', 'ci', '--models', 'mock/*');
      const created = okJson(r);
      assert.match(created.id, /^key_/);
      assert.equal(created.user_id, bob.id);
      assert.equal(created.name, 'ci');
      assert.equal(created.status, 'active');
      assert.deepEqual(created.allowed_models, ['mock/*']);
      assert.match(created.key, /^sk-sy-\S{20,}$/);
      assert.ok(created.key.startsWith(created.prefix) && created.key.endsWith(created.last_four));
      assert.ok(!r.stderr.includes(created.key), 'the secret was logged to stderr');
      assert.equal(r.stdout.split(created.key).length - 1, 1, 'the secret should appear exactly once');
      key = created;
    });

    it('keys list shows the key but never its secret', async () => {
      const r = await cli(dataDir, 'keys', 'list', '--user', bob.id);
      const keys = okJson<Array<Record<string, unknown>>>(r);
      assert.equal(keys.length, 1);
      assert.equal(keys[0]!.id, key.id);
      assert.equal(keys[0]!.status, 'active');
      assert.equal(keys[0]!.last_four, key.last_four);
      assert.ok(!('key' in keys[0]!), 'list output has a "key" field');
      assert.ok(!(r.stdout + r.stderr).includes(key.key), 'the secret was printed by keys list');
      // Nothing longer than the display prefix of any sk-sy- secret either.
      assert.doesNotMatch(r.stdout, /sk-sy-\w{5,}/);
    });

    it('the created key works against the server on the same data dir', async () => {
      await withServer(dataDir, async (url) => {
        const ok = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } });
        const body = (await ok.json()) as { object: string; data: Array<{ id: string }> };
        assert.equal(ok.status, 200, JSON.stringify(body));
        assert.equal(body.object, 'list');
        assert.ok(body.data.some((m) => m.id.startsWith('mock/')), JSON.stringify(body));

        const wrong = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key.key.slice(0, -1)}x` } });
        assert.equal(wrong.status, 401);
        await wrong.body?.cancel();

        // Bob's password came through standard input whole: without the line ending, nothing more.
        const signIn = (password: string) =>
          fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob@example.com', password }) });
        const good = await signIn(PASSWORD);
        assert.equal(good.status, 200, await good.text());
        const withNewline = await signIn(`${PASSWORD}\n`);
        assert.equal(withNewline.status, 401, await withNewline.text());
      });
    });

    it('keys revoke revokes the key', async () => {
      const r = await cli(dataDir, 'keys', 'revoke', key.id);
      const revoked = okJson(r);
      assert.equal(revoked.id, key.id);
      assert.equal(revoked.status, 'revoked');
      assert.ok(revoked.revoked_at && !Number.isNaN(Date.parse(revoked.revoked_at)));
      assert.ok(!('key' in revoked) && !r.stdout.includes(key.key), 'revoke printed the secret');
    });

    it('the server refuses the revoked key', async () => {
      await withServer(dataDir, async (url) => {
        const res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } });
        const body = (await res.json()) as { error?: { code?: string } };
        assert.equal(res.status, 401, JSON.stringify(body));
        assert.equal(body.error?.code, 'key_revoked');
      });
    });
  });

  describe('bad input exits non-zero with one clear line', { concurrency: 1 }, () => {
    let dataDir: string;
    before(() => {
      dataDir = mkdtempSync(join(tmpdir(), 'switchyard-cli-bad-'));
    });
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    it('a missing required option', async () => {
      cleanFailure(await cli(dataDir, 'users', 'create'), 1, /^error: required option '--email <email>' not specified$/);
    });

    it('an invalid email', async () => {
      cleanFailure(await cli(dataDir, 'users', 'create', '--email', 'not-an-email'), 2, /^switchyard: email: must be a valid email address$/);
    });

    it('--password-stdin with nothing on standard input, or with --password as well', async () => {
      cleanFailure(await cliWithInput(dataDir, '', 'users', 'create', '--email', 'dan@example.com', '--password-stdin'), 2, /^switchyard: --password-stdin read no password from standard input\.$/);
      cleanFailure(
        await cliWithInput(dataDir, 'a long enough password\n', 'users', 'create', '--email', 'dan@example.com', '--password-stdin', '--password', 'another long password'),
        2,
        /^switchyard: Give the password either with --password or with --password-stdin, not both\.$/,
      );
    });

    it('an unknown user', async () => {
      cleanFailure(await cli(dataDir, 'keys', 'create', '--user', 'nobody@example.com', '--name', 'ci'), 3, /^switchyard: No user with email nobody@example\.com\.$/);
    });

    it('serve with an unreachable REDIS_URL stops after REDIS_STARTUP_TIMEOUT_MS, credentials kept out of the message', async () => {
      const started = Date.now();
      const r = await cliRun(dataDir, { env: { REDIS_URL: 'redis://ops:s3cret@127.0.0.1:1', REDIS_STARTUP_TIMEOUT_MS: '1500' } }, ['serve', '--port', '0', '--host', '127.0.0.1']);
      // The connection errors before the deadline are logged (JSON lines on stdout); the reason is one line on stderr.
      assert.ok(r.stdout.split('\n').every((l) => !l.trim() || isLogLine(l)), show(r));
      cleanFailure({ ...r, stdout: '' }, 1, /^switchyard: Redis at redis:\/\/127\.0\.0\.1:1 did not answer within 1\.5 s \(ECONNREFUSED\)\. Start it, or unset REDIS_URL to run as a single instance\.$/);
      assert.doesNotMatch(r.stderr + r.stdout, /s3cret/);
      const exited = Date.now();
      assert.ok(exited - started >= 1500, `took ${exited - started} ms`);
      // From the first refused connection to exit, not from spawn: start-up (the embedded database first) takes
      // seconds on a loaded machine, and would hide whether it waited 1.5 s or the 10 s default.
      const firstError = r.stdout.split('\n').find((l) => l.includes('redis error'));
      assert.ok(firstError, show(r));
      const waited = exited - Date.parse((JSON.parse(firstError) as { time: string }).time);
      assert.ok(waited >= 1000 && waited < 8_000, `exited ${waited} ms after the first refused connection`);
    });

    it('REDIS_STARTUP_TIMEOUT_MS out of range is a config error', async () => {
      const r = await cliRun(dataDir, { env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_STARTUP_TIMEOUT_MS: '50' } }, ['serve', '--port', '0']);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /REDIS_STARTUP_TIMEOUT_MS/);
    });

    it('an unknown key id', async () => {
      cleanFailure(await cli(dataDir, 'keys', 'revoke', 'key_doesnotexist'), 3, /^switchyard: No API key "key_doesnotexist"\.$/);
    });
  });
});
