/**
 * A test server in a child process, so a test can capture its real log output (pino writes to fd 1 with
 * synchronous writes, which an in-process test cannot intercept). Started by `startLoggedServer()`.
 *
 * Protocol: config overrides as JSON in SWITCHYARD_TEST_OVERRIDES; prints `LISTENING <url>` on stderr when
 * ready; on a stdin line `dump <file>` writes every row of the identity tables as JSON to <file> and prints
 * `DUMPED` on stderr; stops cleanly on SIGTERM or when stdin closes (the parent died).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const DUMP_TABLES = ['audit_log', 'users', 'api_keys', 'refresh_tokens', 'password_resets', 'org_invites', 'request_logs'] as const;

export interface LoggedServer {
  url: string;
  /** Every stdout line so far (the JSON log). */
  stdout: string[];
  stderr: string[];
  /** Rows of DUMP_TABLES, as stored. */
  dump(): Promise<Record<string, unknown[]>>;
  stop(): Promise<void>;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];

if (isMain) {
  const { startTestServer } = await import('./server.ts');
  const overrides = JSON.parse(process.env.SWITCHYARD_TEST_OVERRIDES ?? '{}');
  const server = await startTestServer(overrides);
  process.stderr.write(`LISTENING ${server.url}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    const m = /^dump (.+)$/.exec(line.trim());
    if (!m) return;
    const out: Record<string, unknown[]> = {};
    for (const t of DUMP_TABLES) out[t] = await server.services.database.db.selectFrom(t).selectAll().execute();
    writeFileSync(m[1], JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    process.stderr.write('DUMPED\n');
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    lines.close();
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  // The parent went away (killed test run): stdin closes, so do not linger as an orphan.
  lines.on('close', stop);
}

export async function startLoggedServer(overrides: Record<string, unknown> = {}): Promise<LoggedServer> {
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHYARD_TEST_OVERRIDES: JSON.stringify(overrides) };
  delete env.NODE_TEST_CONTEXT;
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr.push(l);
    for (const w of [...waiters]) if (w.match.test(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (match: RegExp, ms: number) =>
    Promise.race([
      new Promise<string>((resolve) => waiters.push({ match, resolve })),
      exited.then((code) => Promise.reject(new Error(`log server exited (${code}): ${stderr.join('\n')}`))),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error(`log server: no ${match} within ${ms} ms: ${stderr.join('\n')}`)), ms).unref()),
    ]);
  let ready: string;
  try {
    ready = await waitFor(/^LISTENING /, 180_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const url = ready.slice('LISTENING '.length).trim();
  let n = 0;
  return {
    url,
    stdout,
    stderr,
    async dump() {
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { readFileSync, rmSync } = await import('node:fs');
      const file = join(tmpdir(), `switchyard-dump-${process.pid}-${n++}.json`);
      const done = waitFor(/^DUMPED$/, 60_000);
      child.stdin.write(`dump ${file}\n`);
      await done;
      const data = JSON.parse(readFileSync(file, 'utf8'));
      rmSync(file, { force: true });
      return data;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
