/** The machine and software a run measured, for the results file. */
import { cpus, loadavg, totalmem, release } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
  };
}

const require = createRequire(import.meta.url);

/** Version of an installed package resolved from the repository root, or 'not installed'. */
export function packageVersion(name: string): string {
  try {
    return require(`${name}/package.json`).version as string;
  } catch {
    return 'not installed';
  }
}

export function switchyardVersion(): string {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
}

/** The commit measured, and whether src/ had uncommitted changes (read-only git commands). */
export function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const files = dirty ? dirty.split('\n').length : 0;
    return files ? `${head} + ${files} uncommitted change(s) under src/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** 1-minute load average: a busy machine (tests, builds) makes every figure of a run worse and noisier. */
export function loadAverage(): number {
  return Math.round(loadavg()[0] * 100) / 100;
}
