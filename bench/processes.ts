/**
 * Child processes under test: forked with an IPC channel, started when they report `{ ready: true, port }`,
 * measured through the probe (probe.ts) and stopped politely (so that `--cpu-prof` can write its profile).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import type { ProbeReply, ProbeStats } from './probe.ts';

export interface ForkOptions {
  name: string;
  script: string;
  args?: string[];
  /** Extra node flags (`--cpu-prof`, `--import ...`). `--import tsx` is added for a TypeScript script. */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the child's stdout and stderr go; inherited when unset. */
  logFile?: string;
  /** How the harness learns the port: the child reports it, or it is known in advance. */
  readyWhen?: { kind: 'message' } | { kind: 'http'; url: string };
  readyTimeoutMs?: number;
}

export class BenchProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (stats: ProbeStats) => void>();
  private exited = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (msg: ProbeReply) => {
      if (msg?.probe !== 'stats') return;
      this.pending.get(msg.id)?.(msg.stats);
      this.pending.delete(msg.id);
    });
    child.once('exit', () => {
      this.exited = true;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Starts a new measurement window in the child. */
  resetProbe(): void {
    if (this.alive) this.child.send({ probe: 'reset' });
  }

  /** Reads the child's figures for the current window; undefined when it has no probe or has died. */
  readProbe(timeoutMs = 5000): Promise<ProbeStats | undefined> {
    if (!this.alive) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      this.child.send({ probe: 'read', id });
    });
  }

  /** Asks the child to stop (`{ stop: true }`), then SIGTERM, then SIGKILL. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (this.child.connected) this.child.send({ stop: true });
    if (await within(graceMs)) return;
    this.child.kill('SIGTERM');
    if (await within(3000)) return;
    this.child.kill('SIGKILL');
    await exited;
  }
}

async function waitForHttp(url: string, deadline: number, child: ChildProcess): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`no answer from ${url}`);
}

export async function forkProcess(opts: ForkOptions, knownPort = 0): Promise<BenchProcess> {
  const out = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = fork(opts.script, opts.args ?? [], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    execArgv: [...(opts.script.endsWith('.ts') ? ['--import', 'tsx'] : []), ...(opts.nodeFlags ?? [])],
    stdio: out === undefined ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', out, out, 'ipc'],
  });
  if (out !== undefined) closeSync(out);
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const readyWhen = opts.readyWhen ?? { kind: 'message' };
  try {
    if (readyWhen.kind === 'http') {
      await waitForHttp(readyWhen.url, Date.now() + timeoutMs, child);
      return new BenchProcess(opts.name, child, knownPort);
    }
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
      child.on('message', (msg: { ready?: boolean; port?: number; error?: string }) => {
        if (msg?.error) reject(new Error(msg.error));
        if (msg?.ready && typeof msg.port === 'number') {
          clearTimeout(timer);
          resolve(msg.port);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with code ${code} before it was ready`)));
    });
    return new BenchProcess(opts.name, child, port);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${opts.name}: ${(err as Error).message}${opts.logFile ? ` (see ${opts.logFile})` : ''}`);
  }
}
