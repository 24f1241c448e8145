/**
 * Portkey's open-source gateway (`@portkey-ai/gateway`, latest 1.x) as the comparison point: installed with
 * npm into bench/.portkey (ignored by git), started from its `build/start-server.js` with its default
 * configuration, and addressed with its per-request headers (`x-portkey-provider: openai`,
 * `x-portkey-custom-host: <upstream>/v1`).
 *
 * One deviation from a plain install: `@hono/node-server` is pinned to 1.13.8 with an npm override. From
 * 1.14 on, its Response shim hands out the upstream fetch response's immutable Headers, and Portkey's
 * `updateHeaders` throws `TypeError: immutable` on every streaming and embeddings request (Portkey issues
 * #1389 and #1550). 1.13.8 is what makes Portkey answer at all; it does not change its request path.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { forkProcess, type BenchProcess } from './processes.ts';
import { freePort } from './ports.ts';

export const PORTKEY_DIR = resolve('bench/.portkey');
const PACKAGE_DIR = join(PORTKEY_DIR, 'node_modules/@portkey-ai/gateway');
const MANIFEST = {
  private: true,
  description: 'Installed by the Switchyard benchmark harness (bench/portkey.ts); not part of the project.',
  dependencies: { '@portkey-ai/gateway': '^1' },
  overrides: { '@hono/node-server': '1.13.8' },
};

function installedVersion(): string | undefined {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function npmInstall(log: (line: string) => void): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn('npm', ['install', '--prefix', PORTKEY_DIR, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b));
    child.stderr.on('data', (b: Buffer) => (output += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) ok();
      else fail(new Error(`npm install exited with ${code}: ${output.trim().split('\n').slice(-5).join(' / ')}`));
    });
    log('installing @portkey-ai/gateway@1 into bench/.portkey ...');
  });
}

/** Installs Portkey when missing (or when the manifest changed); returns the installed version. */
export async function ensurePortkey(log: (line: string) => void): Promise<string> {
  mkdirSync(PORTKEY_DIR, { recursive: true });
  const manifestPath = join(PORTKEY_DIR, 'package.json');
  const wanted = JSON.stringify(MANIFEST, null, 2) + '\n';
  const current = existsSync(manifestPath) ? readFileSync(manifestPath, 'utf8') : '';
  if (current !== wanted || !installedVersion()) {
    writeFileSync(manifestPath, wanted);
    await npmInstall(log);
  }
  const version = installedVersion();
  if (!version) throw new Error('@portkey-ai/gateway is not installed after npm install');
  return version;
}

/** `probe`: the bundled probe (bench/build.ts), so that Portkey's process carries no TypeScript loader. */
export async function startPortkey(logFile: string, probe: string): Promise<BenchProcess> {
  const port = await freePort();
  return forkProcess(
    {
      name: 'portkey',
      script: join(PACKAGE_DIR, 'build/start-server.js'),
      args: [`--port=${port}`],
      // The probe (event loop, RSS, CPU) rides along, as it does in our own processes.
      nodeFlags: ['--import', probe],
      logFile,
      readyWhen: { kind: 'http', url: `http://127.0.0.1:${port}/` },
      readyTimeoutMs: 30_000,
    },
    port,
  );
}

/** Headers that route a request through Portkey to an OpenAI-compatible upstream. */
export function portkeyHeaders(upstreamV1: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamV1, authorization: 'Bearer x' };
}
