/**
 * `npm run bench` — the benchmark harness (issue 6). Starts the fake upstream, Switchyard and Portkey in
 * their own processes, checks each answers correctly, runs the scenarios alternating between the upstream
 * directly, Switchyard and Portkey, profiles Switchyard's hot path, then prints a table and writes
 * bench/RESULTS.md. `npm run bench -- --help` lists the flags.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gitRevision, loadAverage, machineInfo, packageVersion, switchyardVersion } from './machine.ts';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import { forkProcess, type BenchProcess } from './processes.ts';
import { ensurePortkey, portkeyHeaders, startPortkey } from './portkey.ts';
import { profileHotPath, type ProfileResult } from './profile.ts';
import { checkTargets, renderConsole, renderMarkdown, type RunReport } from './report.ts';
import { benchModels, runScenario, warmUp, type BenchModels, type ScenarioResult } from './scenarios.ts';
import { startSwitchyard, type SwitchyardOptions } from './switchyard.ts';
import { verifyTarget, type Target } from './targets.ts';
import { buildBenchScripts } from './build.ts';
import { FIRST_TRIM_AFTER_MS } from '../src/http/memory-trim.ts';

const OUT_DIR = resolve('bench/.out');
const started = performance.now();
const running = new Set<BenchProcess>();
const log = (line: string) => console.log(line);

function track(p: BenchProcess): BenchProcess {
  running.add(p);
  p.child.once('exit', () => running.delete(p));
  return p;
}

function killAll(): void {
  for (const p of running) p.child.kill('SIGKILL');
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

async function startUpstream(script: string): Promise<BenchProcess> {
  return track(await forkProcess({ name: 'upstream', script, logFile: join(OUT_DIR, 'upstream.log') }));
}

/** Portkey as a target, or the reason it is not one. */
async function startPortkeyTarget(upstreamV1: string, models: BenchModels, notes: string[], versions: Record<string, string>, probe: string): Promise<Target | undefined> {
  try {
    versions['@portkey-ai/gateway'] = await ensurePortkey(log);
  } catch (err) {
    notes.push(`Portkey could not be installed, so it was not measured: ${(err as Error).message}`);
    return undefined;
  }
  let proc: BenchProcess;
  try {
    proc = track(await startPortkey(join(OUT_DIR, 'portkey.log'), probe));
  } catch (err) {
    notes.push(`Portkey could not be started, so it was not measured: ${(err as Error).message}`);
    return undefined;
  }
  const target: Target = {
    name: 'portkey',
    origin: `http://127.0.0.1:${proc.port}`,
    headers: { 'content-type': 'application/json', ...portkeyHeaders(upstreamV1) },
    modelId: (m) => m,
    process: proc,
  };
  const problems = await verifyTarget(target, { chat: models.chat, stream: models.stream20, embeddings: models.embeddings });
  if (problems.length) {
    notes.push(`Portkey answered incorrectly, so it was not measured: ${problems.join('; ')} (log: bench/.out/portkey.log)`);
    await proc.stop();
    return undefined;
  }
  return target;
}

async function main(o: BenchOptions): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const args = process.argv.slice(2);
  const notes: string[] = [];
  const versions: Record<string, string> = {
    switchyard: switchyardVersion(),
    '@portkey-ai/gateway': o.portkey ? 'not installed' : 'not measured (--no-portkey)',
    autocannon: packageVersion('autocannon'),
    undici: packageVersion('undici'),
    fastify: packageVersion('fastify'),
  };
  const models = benchModels(o);
  const revision = gitRevision();
  const loadBefore = loadAverage();
  if (loadBefore > 1) log(`note: the 1-minute load average is ${loadBefore} before the run; other work on this machine will skew the figures`);
  log(`switchyard bench: ${o.scenarios.join(', ')}; ${o.rounds} round(s) x ${o.durationS} s; database ${o.database}${o.redisUrl ? ' + redis' : ''}${o.portkey ? '; with Portkey' : ''}`);

  const scripts = await buildBenchScripts();
  const upstream = await startUpstream(scripts.upstream);
  const upstreamV1 = `http://127.0.0.1:${upstream.port}/v1`;
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const gateway: SwitchyardOptions = {
    upstreamV1,
    models: [models.chat, models.stream20, models.stream200, models.embeddings],
    checkModel: models.chat,
    dataDir,
    databaseUrl: o.databaseUrl,
    redisUrl: o.redisUrl,
    logFile: join(OUT_DIR, 'switchyard.log'),
    script: scripts.gateway,
    nodeFlags: process.env.BENCH_GATEWAY_NODE_FLAGS?.split(' ').filter(Boolean),
  };
  let firstStart: { peakRssMb?: number; rssMb?: number } | undefined;
  if (o.database === 'embedded' && !o.quick) {
    // The first start runs initdb (in a worker of its own) and the migrations; measure a restarted server,
    // as production runs. A quick run skips this and measures the first start.
    const first = await startSwitchyard(gateway);
    track(first.process);
    const probe = await first.process.readProbe();
    firstStart = { peakRssMb: probe?.lifetimePeakRssMb, rssMb: probe?.rssMb };
    await first.process.stop();
  }
  const sy = await startSwitchyard(gateway);
  const syStartedAt = performance.now();
  track(sy.process);
  const idleRssMb = (await sy.process.readProbe())?.rssMb;
  notes.push(...sy.setup.notes);
  log(`switchyard on ${sy.target.origin} (auth: ${sy.setup.features.auth}, idle RSS ${idleRssMb?.toFixed(0)} MB)`);

  const direct: Target = { name: 'direct', origin: `http://127.0.0.1:${upstream.port}`, headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, modelId: (m) => m, process: upstream };
  const targets: Target[] = [direct, sy.target];
  for (const t of targets) {
    const problems = await verifyTarget(t, { chat: models.chat, stream: models.stream20, embeddings: models.embeddings });
    if (problems.length) throw new Error(`${t.name} answered incorrectly: ${problems.join('; ')}`);
  }
  if (o.portkey) {
    const pk = await startPortkeyTarget(upstreamV1, models, notes, versions, scripts.probe);
    if (pk) {
      targets.push(pk);
      log(`portkey ${versions['@portkey-ai/gateway']} on ${pk.origin}`);
    } else log(`portkey: ${notes[notes.length - 1]}`);
  }
  // The server hands malloc's free memory back once, FIRST_TRIM_AFTER_MS after it starts listening
  // (src/http/memory-trim.ts): the idle figure that a waiting server holds is the one after that.
  const untilTrimmed = FIRST_TRIM_AFTER_MS + 1_000 - (performance.now() - syStartedAt);
  if (untilTrimmed > 0) await new Promise((r) => setTimeout(r, untilTrimmed));
  const settledRssMb = (await sy.process.readProbe())?.rssMb;
  log(`switchyard idle RSS ${settledRssMb?.toFixed(0)} MB once it had trimmed malloc's arenas`);

  // What billing costs: the same gateway with credits off, measured in the chat scenario only.
  let creditsOff: Target | undefined;
  let creditsOffDir: string | undefined;
  if (o.billingOverhead && o.scenarios.includes('chat')) {
    creditsOffDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
    const off = await startSwitchyard({ ...gateway, dataDir: creditsOffDir, databaseUrl: o.databaseUrl, logFile: join(OUT_DIR, 'switchyard-credits-off.log'), env: { CREDITS_MODE: 'off' }, name: 'switchyard-credits-off' });
    track(off.process);
    creditsOff = off.target;
    log(`switchyard-credits-off on ${off.target.origin} (CREDITS_MODE=off, chat scenario only)`);
  }

  const ctx = { targets, options: o, models, workDir: OUT_DIR, log };
  await warmUp(creditsOff ? { ...ctx, targets: [...targets, creditsOff] } : ctx);
  const balanceBefore = await sy.setup.balanceUsd?.();
  const scenarios: ScenarioResult[] = [];
  for (const name of o.scenarios) {
    try {
      scenarios.push(await runScenario(name, name === 'chat' && creditsOff ? { ...ctx, targets: [...targets, creditsOff] } : ctx));
    } catch (err) {
      notes.push(`Scenario ${name} failed: ${(err as Error).message}`);
      log(`[${name}] failed: ${(err as Error).stack}`);
    }
    for (const t of targets) if (!t.process.alive) throw new Error(`${t.name} died during ${name} (see bench/.out/*.log)`);
  }
  for (const s of scenarios) {
    if (s.kind !== 'streams') continue;
    for (const fig of s.figures) if (fig.failed) notes.push(`${s.name}, ${fig.target}: ${fig.failed} stream(s) failed; first failures: ${fig.failures.join(' | ')}`);
  }
  const balanceAfter = await sy.setup.balanceUsd?.();
  if (balanceBefore !== undefined && balanceAfter !== undefined) notes.push(`Credits: the bench user's balance went from $${balanceBefore.toFixed(6)} to $${balanceAfter.toFixed(6)} (charged $${(balanceBefore - balanceAfter).toFixed(6)}).`);

  for (const t of targets) if (t.name !== 'direct') await t.process.stop();
  await creditsOff?.process.stop();
  if (creditsOffDir) rmSync(creditsOffDir, { recursive: true, force: true });
  let profiles: ProfileResult[] = [];
  if (o.profile) {
    try {
      profiles = await profileHotPath(gateway, models, o, OUT_DIR, log);
    } catch (err) {
      notes.push(`Profiling failed: ${(err as Error).message}`);
    }
  }
  await upstream.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const report: RunReport = {
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    date: new Date().toISOString(),
    revision,
    loadBefore,
    loadAfter: loadAverage(),
    machine: machineInfo(),
    versions,
    options: o,
    features: sy.setup.features,
    idleRssMb,
    settledRssMb,
    firstStartPeakRssMb: firstStart?.peakRssMb,
    firstStartRssMb: firstStart?.rssMb,
    scenarios,
    profiles,
    notes,
    wallS: (performance.now() - started) / 1000,
    analytics: existsSync('bench/ANALYTICS.md') ? readFileSync('bench/ANALYTICS.md', 'utf8') : undefined,
  };
  const checks = checkTargets(report);
  console.log(renderConsole(report, checks));
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  writeFileSync(o.out, renderMarkdown(report, checks));
  log(`\nwrote ${o.out} (${(report.wallS / 60).toFixed(1)} min)`);
}

let options: BenchOptions | 'help';
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(USAGE);
  process.exit(0);
}
try {
  await main(options);
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  killAll();
  process.exit(1);
}
