/**
 * Hot-path profiles: Switchyard restarted under `node --cpu-prof` (profiles in bench/.out/profiles), loaded
 * with the non-streaming (closed and open loop) and the streaming scenario, stopped so that V8 writes the profile, and summarized
 * over the load window only (start-up and shutdown excluded).
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { BenchOptions } from './options.ts';
import { runClosedLoop } from './load/closed-loop.ts';
import { runOpenLoop } from './load/open-loop.ts';
import { runStreams } from './load/streams.ts';
import { summarizeProfileFile, type ProfileSummary } from './cpuprofile-summary.ts';
import type { BenchModels } from './scenarios.ts';
import { startSwitchyard, type SwitchyardOptions } from './switchyard.ts';
import { CHAT_PATH, chatBody } from './targets.ts';

export interface ProfileResult {
  scenario: string;
  load: string;
  file: string;
  requests: number;
  summary: ProfileSummary;
  /** CPU time of the other threads (the embedded database worker, tsx's loader) in the same window. */
  otherThreads: { file: string; busyMs: number }[];
}

/**
 * `--cpu-prof` writes one profile per thread, named CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile;
 * thread 0 is the main thread. Renames them to <scenario>-main.cpuprofile and <scenario>-thread<N>.cpuprofile.
 */
function collectProfiles(dir: string, scenario: string): { main: string | undefined; others: string[] } {
  let main: string | undefined;
  const others: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(name);
    if (!m) continue;
    const renamed = join(dir, m[1] === '0' ? `${scenario}-main.cpuprofile` : `${scenario}-thread${m[1]}.cpuprofile`);
    renameSync(join(dir, name), renamed);
    if (m[1] === '0') main = renamed;
    else others.push(renamed);
  }
  return { main, others };
}

type Gateway = Omit<SwitchyardOptions, 'nodeFlags'>;

export async function profileHotPath(gateway: Gateway, models: BenchModels, o: BenchOptions, outDir: string, log: (line: string) => void): Promise<ProfileResult[]> {
  const dir = resolve(outDir, 'profiles');
  mkdirSync(dir, { recursive: true });
  const results: ProfileResult[] = [];
  const plans = [
    { scenario: 'chat', load: `non-streaming chat, closed loop, ${o.connections} connections, ${o.durationS} s` },
    { scenario: 'chat-latency', load: `non-streaming chat, open loop at ${o.rates[0]} req/s, ${o.durationS} s` },
    { scenario: 'stream-200', load: `${o.streams} concurrent ${o.streamChunks}-chunk streams (${o.chunkIntervalMs} ms pacing)` },
  ];
  for (const plan of plans) {
    const runDir = join(dir, plan.scenario);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    // From the TypeScript sources (tsx), not the bundle: the summaries attribute time to src/ files and folders.
    const sy = await startSwitchyard({ ...gateway, script: undefined, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', runDir] });
    let requests = 0;
    let from = 0;
    let to = 0;
    try {
      const t = sy.target;
      // Warm the JIT first (as the measured runs are), so that the window shows the optimized hot path.
      await runClosedLoop({ url: t.origin + CHAT_PATH, headers: t.headers, body: chatBody(t, models.chat, false), connections: o.connections, durationS: 3 * o.warmupS });
      await runClosedLoop({ url: t.origin + CHAT_PATH, headers: t.headers, body: chatBody(t, models.stream20, true), connections: o.connections, durationS: o.warmupS });
      from = (await sy.process.readProbe())?.monotonicUs ?? 0;
      if (plan.scenario === 'chat') {
        const r = await runClosedLoop({ url: t.origin + CHAT_PATH, headers: t.headers, body: chatBody(t, models.chat, false), connections: o.connections, durationS: o.durationS });
        requests = r.ok;
      } else if (plan.scenario === 'chat-latency') {
        const r = await runOpenLoop({ origin: t.origin, path: CHAT_PATH, headers: t.headers, body: chatBody(t, models.chat, false), rate: o.rates[0], durationS: o.durationS, warmupS: 0 });
        requests = r.ok;
      } else {
        const r = await runStreams({ origin: t.origin, path: CHAT_PATH, headers: t.headers, body: chatBody(t, models.stream200, true), streams: o.streams, rampMs: o.rampMs });
        requests = r.completed;
      }
      to = (await sy.process.readProbe())?.monotonicUs ?? 0;
    } finally {
      await sy.process.stop();
    }
    const window = from && to ? { fromUs: from, toUs: to } : undefined;
    const { main, others } = collectProfiles(runDir, plan.scenario);
    if (!main) throw new Error(`no main-thread profile in ${runDir}`);
    const summary = summarizeProfileFile(main, { top: 25, window });
    const otherThreads = others.map((file) => ({ file: relative(process.cwd(), file), busyMs: summarizeProfileFile(file, { window }).busyMs }));
    log(`[profile] ${plan.scenario}: main thread ${summary.busyMs.toFixed(0)} ms busy over ${requests} requests -> ${relative(process.cwd(), main)}`);
    results.push({ scenario: plan.scenario, load: plan.load, file: relative(process.cwd(), main), requests, summary, otherThreads });
  }
  return results;
}
