/**
 * The performance budget's verdicts (bench/report.ts `checkTargets`): each target's threshold, the figure it
 * is judged on, and when there is no verdict. Synthetic runs, so every edge is exact.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargets, type RunReport, type Verdict } from '../../bench/report.ts';
import type { LatencyFigures, ProcessFigures, ScenarioResult, StreamFigures, ThroughputFigures } from '../../bench/scenarios.ts';
import type { TargetName } from '../../bench/targets.ts';

const proc = (loopMaxMs: number, peakRssMb = 250): ProcessFigures => ({ loopMaxMs, loopP99Ms: 1, peakRssMb, cpuMs: 1 });
const summary = (p50: number, p99 = p50) => ({ p50, p90: p99, p99, max: p99, mean: p50, count: 1 });

const chat = (rps: Partial<Record<TargetName, number>>, loopMaxMs = 10): ScenarioResult => ({
  name: 'chat',
  title: 'chat',
  kind: 'throughput',
  figures: Object.entries(rps).map(([target, r]): ThroughputFigures => ({ target: target as TargetName, rps: r, roundsRps: [r], latencyP50: 1, latencyP99: 2, ok: 1, failed: 0, process: proc(loopMaxMs) })),
});

const latency = (direct: [p50: number, p99: number], switchyard: [p50: number, p99: number], failed = 0): ScenarioResult => ({
  name: 'chat-latency',
  title: 'chat-latency',
  kind: 'latency',
  figures: ([['direct', direct, 0], ['switchyard', switchyard, failed]] as const).map(([target, [p50, p99], f]): LatencyFigures => ({ target, rate: 500, latency: summary(p50, p99), ok: 1, failed: f, achievedRate: 500, process: proc(5) })),
});

interface StreamRun {
  streams?: number;
  completed?: number;
  failed?: number;
  peakOpen?: number;
  ttft?: number;
  rss?: number;
  loopMaxMs?: number;
}
const streams = (direct: StreamRun, switchyard: StreamRun): ScenarioResult => ({
  name: 'stream-200',
  title: 'stream-200',
  kind: 'streams',
  figures: ([['direct', direct], ['switchyard', switchyard]] as const).map(([target, s]): StreamFigures => {
    const n = s.streams ?? 1000;
    return { target, streams: n, ttft: summary(s.ttft ?? 2), headers: summary(1), peakOpen: s.peakOpen ?? n, completion: summary(4000), completed: s.completed ?? n, failed: s.failed ?? 0, eventsPerStream: 204, loadCpuUsPerEvent: 10, failures: [], process: proc(s.loopMaxMs ?? 10, s.rss ?? 250) };
  }),
});

const run = (...scenarios: ScenarioResult[]): RunReport => ({ options: { rounds: 1 }, scenarios }) as unknown as RunReport;

function verdicts(r: RunReport): Record<string, Verdict> {
  return Object.fromEntries(checkTargets(r).map((c) => [c.goal, c.verdict]));
}
const THROUGHPUT = 'Non-streaming throughput >= 5x Portkey (same run)';
const BILLING = 'Billing (reservation, settlement, ledger) costs < 10% of throughput (issue 4)';
const P50 = 'Added latency p50 <= 1 ms at 500 req/s';
const P99 = 'Added latency p99 <= 5 ms at 500 req/s';
const STREAMS = '1,000 concurrent 200-chunk streams complete without errors';
const TTFT = 'Added time to first token p50 <= 2 ms';
const RSS = 'Gateway RSS < 300 MB during the streams';
const STALL = 'No event-loop stall > 50 ms in any scenario';

describe('performance budget verdicts', () => {
  it('throughput passes at 5x Portkey and not below; without Portkey there is no verdict', () => {
    assert.equal(verdicts(run(chat({ direct: 30_000, switchyard: 5_000, portkey: 1_000 })))[THROUGHPUT], 'PASS');
    assert.equal(verdicts(run(chat({ direct: 30_000, switchyard: 4_999, portkey: 1_000 })))[THROUGHPUT], 'MISS');
    assert.equal(verdicts(run(chat({ direct: 30_000, switchyard: 5_000 })))[THROUGHPUT], 'n/a');
  });

  it("billing's share is judged against the credits-off Switchyard, under 10%", () => {
    assert.equal(verdicts(run(chat({ switchyard: 901, 'switchyard-credits-off': 1_000, portkey: 100 })))[BILLING], 'PASS');
    assert.equal(verdicts(run(chat({ switchyard: 900, 'switchyard-credits-off': 1_000, portkey: 100 })))[BILLING], 'MISS');
    assert.equal(verdicts(run(chat({ switchyard: 900, portkey: 100 })))[BILLING], undefined);
  });

  it('added latency is Switchyard minus direct at 500 req/s; a failed request or a disturbed baseline has its own verdict', () => {
    const v = verdicts(run(latency([0.8, 3], [1.8, 8])));
    assert.equal(v[P50], 'PASS');
    assert.equal(v[P99], 'PASS');
    const over = verdicts(run(latency([0.8, 3], [1.81, 8.01])));
    assert.equal(over[P50], 'MISS');
    assert.equal(over[P99], 'MISS');
    assert.equal(verdicts(run(latency([0.8, 3], [1.0, 4], 1)))[P50], 'MISS');
    assert.equal(verdicts(run(latency([2, 9], [1, 4])))[P99], 'n/a');
    assert.equal(verdicts(run())[P99], 'n/a');
  });

  it('the streams pass only when all 1,000 completed, none failed and all were open at once', () => {
    assert.equal(verdicts(run(streams({}, {})))[STREAMS], 'PASS');
    assert.equal(verdicts(run(streams({}, { completed: 999 })))[STREAMS], 'MISS');
    assert.equal(verdicts(run(streams({}, { failed: 1 })))[STREAMS], 'MISS');
    assert.equal(verdicts(run(streams({}, { peakOpen: 419 })))[STREAMS], 'MISS');
    assert.equal(verdicts(run(streams({ streams: 20 }, { streams: 20 })))[STREAMS], 'n/a');
  });

  it('added TTFT and RSS are judged on the stream scenario', () => {
    assert.equal(verdicts(run(streams({ ttft: 1.5 }, { ttft: 3.5 })))[TTFT], 'PASS');
    assert.equal(verdicts(run(streams({ ttft: 1.5 }, { ttft: 3.6 })))[TTFT], 'MISS');
    assert.equal(verdicts(run(streams({}, { rss: 299 })))[RSS], 'PASS');
    assert.equal(verdicts(run(streams({}, { rss: 300 })))[RSS], 'MISS');
  });

  it("the longest stall is Switchyard's, over every scenario; other targets' stalls do not count", () => {
    assert.equal(verdicts(run(chat({ direct: 1, switchyard: 1 }, 50), streams({ loopMaxMs: 90 }, { loopMaxMs: 40 })))[STALL], 'PASS');
    assert.equal(verdicts(run(chat({ direct: 1, switchyard: 1 }, 10), streams({}, { loopMaxMs: 50.1 })))[STALL], 'MISS');
    assert.match(checkTargets(run(chat({ switchyard: 1 }, 61.4))).find((c) => c.goal === STALL)!.measured, /longest 61\.4 ms \(chat\)/);
  });
});
