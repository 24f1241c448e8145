/**
 * Calls candidates until one answers. Transient failures (connect errors, resets, 408, 409, 429, 5xx,
 * first-byte timeouts) move on to the next candidate; once every candidate had its turn, retries cycle with
 * exponential backoff and jitter, honouring an upstream Retry-After, within the total deadline. Deployments
 * whose circuit breaker is open are skipped (half-open ones get a probe); when every one is open the request
 * fails fast with 503. Non-transient errors (a 400 from the provider) end the attempts at once.
 * Nothing here retries after the first byte reached the client: callers return once a stream has begun.
 */
import { UpstreamError } from '../providers/errors.ts';
import type { CallOptions } from '../providers/client.ts';
import type { CancelSignal } from '../providers/cancel.ts';
import type { Config } from '../config/schema.ts';
import { unavailable } from '../errors.ts';
import type { Candidate } from './router.ts';
import type { Admit, BreakerBoard } from './breakers.ts';
import type { DeploymentStats } from './deployment-stats.ts';

export interface AttemptFailure {
  candidate: Candidate;
  error: unknown;
}

export interface AttemptOutcome<T> {
  value: T;
  candidate: Candidate;
  attempts: number;
  failures: AttemptFailure[];
}

export class AttemptsExhausted extends Error {
  constructor(
    readonly last: unknown,
    readonly candidate: Candidate,
    readonly attempts: number,
  ) {
    super('all attempts failed');
  }
}

export interface Resilience {
  breakers: BreakerBoard;
  stats: DeploymentStats;
}

/** The id breakers and stats know a deployment by: `provider/upstream-model`. */
export const deploymentId = (c: Candidate) => `${c.entry.provider.id}/${c.target.model}`;

const sleep = (ms: number, signal: CancelSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export function callOptions(config: Config, candidate: Candidate, signal: CancelSignal): CallOptions {
  const p = candidate.entry.provider;
  return {
    signal,
    firstByteTimeoutMs: candidate.timeouts?.firstByteMs ?? p.timeoutMs ?? config.upstream.firstByteTimeoutMs,
    idleTimeoutMs: candidate.timeouts?.idleMs ?? p.idleTimeoutMs ?? config.upstream.streamIdleTimeoutMs,
    connectTimeoutMs: candidate.timeouts?.connectMs ?? p.connectTimeoutMs,
  };
}

const isUnsupported = (err: unknown) => err instanceof UpstreamError && err.code === 'unsupported_parameter';

/** When every candidate refused the request's parameters, the client hears the first refusal (the primary model's). */
function refusedFirst(last: unknown, failures: AttemptFailure[]): unknown {
  if (!failures.every((f) => isUnsupported(f.error))) return last;
  return failures[0]?.error ?? last;
}

export async function attemptInOrder<T>(
  candidates: Candidate[],
  opts: { maxAttempts: number; deadlineAt: number; signal: CancelSignal; resilience: Resilience },
  call: (candidate: Candidate) => Promise<T>,
): Promise<AttemptOutcome<T>> {
  const { breakers, stats } = opts.resilience;
  const failures: AttemptFailure[] = [];
  // Every candidate gets a chance; extra attempts beyond that retry from the top.
  const total = Math.max(opts.maxAttempts, candidates.length);
  let next = 0;
  for (let attempt = 0; attempt < total; attempt++) {
    let chosen: Candidate | undefined;
    let admit: Admit = 'no';
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[(next + k) % candidates.length];
      admit = breakers.admit(deploymentId(c));
      if (admit !== 'no') {
        chosen = c;
        next = next + k + 1;
        break;
      }
    }
    if (!chosen) {
      const last = failures[failures.length - 1];
      if (last) throw new AttemptsExhausted(last.error, last.candidate, attempt);
      const wait = breakers.retryAfterMs(candidates.map(deploymentId));
      throw unavailable('Every deployment of this model is temporarily unavailable (circuit breaker open).', 'all_deployments_unavailable', Math.max(1, Math.ceil(wait / 1000)));
    }
    if (attempt >= candidates.length) {
      const last = failures[failures.length - 1]?.error;
      const hinted = last instanceof UpstreamError && last.retryAfter !== undefined ? last.retryAfter * 1000 : 0;
      const backoff = Math.min(8000, 250 * 2 ** (attempt - candidates.length)) * (0.5 + Math.random() / 2);
      const wait = Math.max(hinted, backoff);
      if (Date.now() + wait >= opts.deadlineAt) {
        breakers.abandon(deploymentId(chosen), admit);
        const f = failures[failures.length - 1];
        throw new AttemptsExhausted(f.error, f.candidate, attempt);
      }
      await sleep(wait, opts.signal).catch((err) => {
        breakers.abandon(deploymentId(chosen!), admit);
        throw err;
      });
    }
    const id = deploymentId(chosen);
    const started = performance.now();
    try {
      const value = await call(chosen);
      breakers.success(id, admit);
      stats.success(id, performance.now() - started);
      return { value, candidate: chosen, attempts: attempt + 1, failures };
    } catch (error) {
      if (opts.signal.aborted) {
        breakers.abandon(id, admit);
        throw error;
      }
      const transient = error instanceof UpstreamError && error.retryable;
      // The adapter refused the request before calling (a parameter its API cannot honour, e.g. n > 1 on
      // Anthropic): another candidate may serve it, and the deployment's health is unknown.
      const refused = isUnsupported(error);
      if (transient) {
        breakers.failure(id, admit);
        stats.failure(id);
      } else if (error instanceof UpstreamError && !refused) {
        breakers.success(id, admit); // it answered: alive, just not for this request
      } else {
        breakers.abandon(id, admit);
      }
      failures.push({ candidate: chosen, error });
      const canMoveOn = transient || (refused && failures.length < candidates.length);
      if (!canMoveOn || attempt === total - 1) throw new AttemptsExhausted(refusedFirst(error, failures), chosen, attempt + 1);
    }
  }
  throw new Error('unreachable');
}
