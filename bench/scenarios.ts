/**
 * The scenarios. Each measures every target in rounds, alternating the order (direct, Switchyard, Portkey,
 * then reversed, ...) so that a noisy neighbour or thermal drift hits all of them alike, and reads each
 * target's process probe around every run.
 */
import type { BenchOptions, ScenarioName } from './options.ts';
import type { ProbeStats } from './probe.ts';
import { runClosedLoop } from './load/closed-loop.ts';
import { runOpenLoop } from './load/open-loop.ts';
import { runStreams } from './load/streams.ts';
import { runWrk, wrkAvailable, type WrkResult } from './load/wrk.ts';
import { addCounters, countersSince, readTcpCounters, type TcpCounters } from './load/tcp-counters.ts';
import { mean, Samples, summarize, type Summary } from './stats.ts';
import { CHAT_PATH, EMBEDDINGS_PATH, chatBody, embeddingsBody, type Target, type TargetName } from './targets.ts';

/** What the probe saw in a target's process over all runs of one scenario. */
export interface ProcessFigures {
  loopMaxMs: number;
  loopP99Ms: number;
  peakRssMb: number;
  cpuMs: number;
}

export interface ThroughputFigures {
  target: TargetName;
  rps: number;
  roundsRps: number[];
  latencyP50: number;
  latencyP99: number;
  ok: number;
  failed: number;
  process?: ProcessFigures;
  cpuMsPerRequest?: number;
  wrk?: WrkResult;
  /** Largest write-behind backlog (request-log rows + charges not yet in the database) at the end of a run. */
  backlogRows?: number;
  /** Seconds the database took, after the runs, to catch up with that backlog (summed over rounds). */
  drainS?: number;
  /** Requests over load time plus drain time: the rate the database can keep up with. */
  sustainedRps?: number;
}

export interface LatencyFigures {
  target: TargetName;
  rate: number;
  latency: Summary;
  ok: number;
  failed: number;
  achievedRate: number;
  process?: ProcessFigures;
}

export interface StreamFigures {
  target: TargetName;
  streams: number;
  ttft: Summary;
  /** Scheduled start to response headers. */
  headers: Summary;
  /** The lowest, over the rounds, of the most streams open at once. */
  peakOpen: number;
  completion: Summary;
  completed: number;
  failed: number;
  eventsPerStream: number;
  /** CPU of the load generator (the bench process) per event received, µs. */
  loadCpuUsPerEvent: number | undefined;
  /** Connection attempts refused by a full accept queue during this target's runs, machine-wide (Linux only). */
  tcp?: TcpCounters;
  /** The gateway's own TTFT of the same streams (handler to first token), from its request log. */
  ownTtft?: Summary;
  failures: string[];
  process?: ProcessFigures;
}

interface Base {
  name: ScenarioName;
  title: string;
}
export type ScenarioResult =
  | (Base & { kind: 'throughput'; figures: ThroughputFigures[] })
  | (Base & { kind: 'latency'; figures: LatencyFigures[] })
  | (Base & { kind: 'streams'; figures: StreamFigures[] });

/** Upstream model names; the model name carries the upstream's response profile (upstream-payloads.ts). */
export interface BenchModels {
  chat: string;
  stream20: string;
  stream200: string;
  embeddings: string;
}

export function benchModels(o: BenchOptions): BenchModels {
  const l = o.upstreamLatencyMs > 0 ? `-l${o.upstreamLatencyMs}` : '';
  return {
    chat: `gpt-bench-c20${l}`,
    stream20: `gpt-bench-c20-i0${l}`,
    stream200: `gpt-bench-c${o.streamChunks}-i${o.chunkIntervalMs}${l}`,
    embeddings: `embed-bench${l}`,
  };
}

export interface ScenarioContext {
  targets: Target[];
  options: BenchOptions;
  models: BenchModels;
  workDir: string;
  log(line: string): void;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Round r measures the targets in this order: forward on even rounds, backward on odd ones. */
function order<T>(items: T[], round: number): T[] {
  return round % 2 === 0 ? items : [...items].reverse();
}

function mergeProbe(acc: ProcessFigures | undefined, s: ProbeStats | undefined): ProcessFigures | undefined {
  if (!s) return acc;
  const cpuMs = s.cpuUserMs + s.cpuSystemMs;
  if (!acc) return { loopMaxMs: s.loopMaxMs, loopP99Ms: s.loopP99Ms, peakRssMb: s.peakRssMb, cpuMs };
  return {
    loopMaxMs: Math.max(acc.loopMaxMs, s.loopMaxMs),
    loopP99Ms: Math.max(acc.loopP99Ms, s.loopP99Ms),
    peakRssMb: Math.max(acc.peakRssMb, s.peakRssMb),
    cpuMs: acc.cpuMs + cpuMs,
  };
}

/** Runs `measure` with the target's probe window around it. */
async function probed<T>(target: Target, measure: () => Promise<T>): Promise<{ value: T; stats: ProbeStats | undefined }> {
  target.process.resetProbe();
  const value = await measure();
  const stats = await target.process.readProbe();
  return { value, stats };
}

/** Waits until the target's write-behind queues are empty; returns what was left at the start and how long it took. */
async function drainBacklog(target: Target): Promise<{ rows: number; seconds: number } | undefined> {
  if (!target.backlog) return undefined;
  const started = performance.now();
  const rows = await target.backlog();
  for (let left = rows; left > 0 && performance.now() - started < 300_000; left = await target.backlog()) await pause(100);
  return { rows, seconds: rows > 0 ? (performance.now() - started) / 1000 : 0 };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Workload {
  path: string;
  body(target: Target): string;
}

async function throughputScenario(ctx: ScenarioContext, name: ScenarioName, title: string, work: Workload): Promise<ScenarioResult> {
  const { options: o } = ctx;
  const acc = new Map<TargetName, { rps: number[]; p50: number[]; p99: number[]; ok: number; failed: number; process?: ProcessFigures; backlog?: number; drainS?: number }>();
  for (const t of ctx.targets) {
    acc.set(t.name, { rps: [], p50: [], p99: [], ok: 0, failed: 0 });
    await runClosedLoop({ url: t.origin + work.path, headers: t.headers, body: work.body(t), connections: o.connections, durationS: o.warmupS });
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const t of order(ctx.targets, round)) {
      await pause(500);
      const { value: r, stats } = await probed(t, () => runClosedLoop({ url: t.origin + work.path, headers: t.headers, body: work.body(t), connections: o.connections, durationS: o.durationS }));
      const a = acc.get(t.name)!;
      a.rps.push(r.rps);
      a.p50.push(r.latencyP50);
      a.p99.push(r.latencyP99);
      a.ok += r.ok;
      a.failed += r.failed;
      a.process = mergeProbe(a.process, stats);
      // Outside the probe window: the database catching up is reported, not counted as load-time CPU.
      const drained = await drainBacklog(t);
      if (drained) {
        a.backlog = Math.max(a.backlog ?? 0, drained.rows);
        a.drainS = (a.drainS ?? 0) + drained.seconds;
      }
      const behind = drained?.rows ? `, database ${fmt(drained.rows)} rows behind (${fmt(drained.seconds, 1)} s to catch up)` : '';
      ctx.log(`[${name}] round ${round + 1}/${o.rounds} ${t.name}: ${fmt(r.rps)} req/s, p50 ${r.latencyP50} ms, p99 ${r.latencyP99} ms${r.failed ? `, ${r.failed} failed` : ''}${behind}`);
    }
  }
  const figures: ThroughputFigures[] = [];
  for (const t of ctx.targets) {
    const a = acc.get(t.name)!;
    const f: ThroughputFigures = { target: t.name, rps: mean(a.rps), roundsRps: a.rps, latencyP50: mean(a.p50), latencyP99: mean(a.p99), ok: a.ok, failed: a.failed, process: a.process };
    if (a.process && a.ok) f.cpuMsPerRequest = a.process.cpuMs / a.ok;
    if (a.drainS !== undefined) {
      f.backlogRows = a.backlog;
      f.drainS = a.drainS;
      f.sustainedRps = (a.ok + a.failed) / (o.rounds * o.durationS + a.drainS);
    }
    if (name === 'chat' && wrkAvailable()) f.wrk = await runWrk(t.origin + work.path, t.headers, work.body(t), o.connections, o.durationS, ctx.workDir);
    figures.push(f);
  }
  return { kind: 'throughput', name, title, figures };
}

async function latencyScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options: o } = ctx;
  const figures: LatencyFigures[] = [];
  for (const rate of o.rates) {
    const acc = new Map<TargetName, { samples: Samples; ok: number; failed: number; achieved: number[]; process?: ProcessFigures }>();
    for (const t of ctx.targets) acc.set(t.name, { samples: new Samples(), ok: 0, failed: 0, achieved: [] });
    for (let round = 0; round < o.rounds; round++) {
      for (const t of order(ctx.targets, round)) {
        await pause(500);
        const run = () => runOpenLoop({ origin: t.origin, path: CHAT_PATH, headers: t.headers, body: chatBody(t, ctx.models.chat, false), rate, durationS: o.durationS, warmupS: o.warmupS });
        const { value: r, stats } = await probed(t, run);
        const a = acc.get(t.name)!;
        a.samples.append(r.latencies);
        a.ok += r.ok;
        a.failed += r.failed;
        a.achieved.push(r.achievedRate);
        a.process = mergeProbe(a.process, stats);
        const s = summarize(r.latencies.values());
        ctx.log(`[chat-latency] ${rate}/s round ${round + 1}/${o.rounds} ${t.name}: p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms${r.failed ? `, ${r.failed} failed` : ''}`);
      }
    }
    for (const t of ctx.targets) {
      const a = acc.get(t.name)!;
      figures.push({ target: t.name, rate, latency: summarize(a.samples.values()), ok: a.ok, failed: a.failed, achievedRate: mean(a.achieved), process: a.process });
    }
  }
  return { kind: 'latency', name: 'chat-latency', title: `Non-streaming chat, open loop at ${o.rates.join(', ')} req/s: latency from scheduled send`, figures };
}

async function streamScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options: o } = ctx;
  const acc = new Map<TargetName, { ttft: Samples; headers: Samples; peaks: number[]; completion: Samples; completed: number; failed: number; events: number[]; loadCpuMs: number; received: number; tcp?: TcpCounters; ownTtft?: Samples; failures: string[]; process?: ProcessFigures }>();
  for (const t of ctx.targets) acc.set(t.name, { ttft: new Samples(), headers: new Samples(), peaks: [], completion: new Samples(), completed: 0, failed: 0, events: [], loadCpuMs: 0, received: 0, failures: [] });
  for (let round = 0; round < o.rounds; round++) {
    for (const t of order(ctx.targets, round)) {
      await pause(1000);
      const run = () => runStreams({ origin: t.origin, path: CHAT_PATH, headers: t.headers, body: chatBody(t, ctx.models.stream200, true), streams: o.streams, rampMs: o.rampMs });
      const tcpBefore = readTcpCounters();
      const { value: r, stats } = await probed(t, run);
      const tcp = countersSince(tcpBefore, readTcpCounters());
      const a = acc.get(t.name)!;
      a.tcp = addCounters(a.tcp, tcp);
      a.ttft.append(r.ttft);
      a.headers.append(r.headers);
      a.peaks.push(r.peakOpen);
      a.completion.append(r.completion);
      a.completed += r.completed;
      a.failed += r.failed;
      a.events.push(r.eventsPerStream);
      a.loadCpuMs += r.loadCpuMs;
      a.received += r.completed * r.eventsPerStream;
      for (const f of r.failures) if (a.failures.length < 5) a.failures.push(f);
      a.process = mergeProbe(a.process, stats);
      if (t.ownTtftMs && r.completed) {
        await drainBacklog(t);
        const own = (a.ownTtft ??= new Samples());
        for (const ms of await t.ownTtftMs(ctx.models.stream200, r.completed)) own.push(ms);
      }
      const s = summarize(r.ttft.values());
      ctx.log(`[stream-200] round ${round + 1}/${o.rounds} ${t.name}: ${r.completed}/${o.streams} complete, at most ${r.peakOpen} open at once, TTFT p50 ${fmt(s.p50, 2)} ms p99 ${fmt(s.p99, 2)} ms${stats ? `, peak RSS ${fmt(stats.peakRssMb)} MB` : ''}${tcp?.listenOverflows ? `, ${tcp.listenOverflows} listen-queue overflows` : ''}${r.failed ? `, ${r.failed} failed (${r.failures[0]})` : ''}`);
    }
  }
  const figures: StreamFigures[] = ctx.targets.map((t) => {
    const a = acc.get(t.name)!;
    return {
      target: t.name,
      streams: o.streams,
      ttft: summarize(a.ttft.values()),
      headers: summarize(a.headers.values()),
      peakOpen: Math.min(...a.peaks),
      completion: summarize(a.completion.values()),
      completed: a.completed,
      failed: a.failed,
      eventsPerStream: mean(a.events),
      loadCpuUsPerEvent: a.received ? (a.loadCpuMs * 1000) / a.received : undefined,
      tcp: a.tcp,
      ownTtft: a.ownTtft?.length ? summarize(a.ownTtft.values()) : undefined,
      failures: a.failures,
      process: a.process,
    };
  });
  return {
    kind: 'streams',
    name: 'stream-200',
    title: `${o.streams} concurrent ${o.streamChunks}-chunk streams, ${o.chunkIntervalMs} ms between chunks, opened over ${o.rampMs} ms`,
    figures,
  };
}

/**
 * JIT warm-up before anything is measured: V8 needs several thousand requests before the hot path is
 * optimized, and a cold gateway would be measured on its interpreter in whichever scenario ran first.
 */
export async function warmUp(ctx: ScenarioContext): Promise<void> {
  const o = ctx.options;
  for (const t of ctx.targets) {
    if (t.name === 'direct') continue;
    await runClosedLoop({ url: t.origin + CHAT_PATH, headers: t.headers, body: chatBody(t, ctx.models.chat, false), connections: o.connections, durationS: 3 * o.warmupS });
    await runClosedLoop({ url: t.origin + CHAT_PATH, headers: t.headers, body: chatBody(t, ctx.models.stream20, true), connections: o.connections, durationS: o.warmupS });
    await runClosedLoop({ url: t.origin + EMBEDDINGS_PATH, headers: t.headers, body: embeddingsBody(t, ctx.models.embeddings), connections: o.connections, durationS: o.warmupS });
  }
  ctx.log(`warmed up ${ctx.targets.filter((t) => t.name !== 'direct').map((t) => t.name).join(' and ')} (${5 * o.warmupS} s each)`);
}

export async function runScenario(name: ScenarioName, ctx: ScenarioContext): Promise<ScenarioResult> {
  const o = ctx.options;
  switch (name) {
    case 'chat':
      return throughputScenario(ctx, name, `Non-streaming chat, closed loop, ${o.connections} connections`, { path: CHAT_PATH, body: (t) => chatBody(t, ctx.models.chat, false) });
    case 'embeddings':
      return throughputScenario(ctx, name, `Embeddings (1536 dimensions), closed loop, ${o.connections} connections`, { path: EMBEDDINGS_PATH, body: (t) => embeddingsBody(t, ctx.models.embeddings) });
    case 'stream-20':
      return throughputScenario(ctx, name, `Streaming chat, 20 chunks back to back, closed loop, ${o.connections} connections`, { path: CHAT_PATH, body: (t) => chatBody(t, ctx.models.stream20, true) });
    case 'chat-latency':
      return latencyScenario(ctx);
    case 'stream-200':
      return streamScenario(ctx);
  }
}
