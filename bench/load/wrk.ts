/**
 * wrk, when it is installed (it is not by default): a second, C-based opinion on closed-loop throughput.
 * Absent wrk, `wrkAvailable()` is false and the harness skips it without a word.
 */
import { spawnSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkResult {
  rps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

let available: boolean | undefined;

export function wrkAvailable(): boolean {
  available ??= spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  return available;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal here

function script(headers: Record<string, string>, body: string): string {
  const lines = ['wrk.method = "POST"', `wrk.body = ${lua(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${lua(k)}] = ${lua(v)}`);
  return lines.join('\n') + '\n';
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

export async function runWrk(url: string, headers: Record<string, string>, body: string, connections: number, durationS: number, workDir: string): Promise<WrkResult | undefined> {
  const file = join(workDir, 'wrk-post.lua');
  writeFileSync(file, script(headers, body));
  const output = await new Promise<string>((resolve) => {
    const child = spawn('wrk', ['-t2', `-c${connections}`, `-d${durationS}s`, '--latency', '-s', file, url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.once('exit', () => resolve(out));
    child.once('error', () => resolve(''));
  });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(output);
  if (!rps || !p50 || !p99) return undefined;
  return { rps: Number(rps[1]), latencyP50Ms: toMs(p50[1], p50[2]), latencyP99Ms: toMs(p99[1], p99[2]) };
}
