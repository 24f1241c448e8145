/**
 * Calls candidates in order until one answers: transient failures before the first byte move on to the
 * next candidate (cycling, with backoff when a candidate is reused); anything else is final.
 */
import { UpstreamError } from '../providers/errors.ts';
import type { CallOptions } from '../providers/client.ts';
import type { Config } from '../config/schema.ts';
import type { Candidate } from './router.ts';

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

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

export function callOptions(config: Config, candidate: Candidate, signal: AbortSignal): CallOptions {
  return {
    signal,
    firstByteTimeoutMs: candidate.entry.provider.timeoutMs ?? config.upstream.firstByteTimeoutMs,
    idleTimeoutMs: config.upstream.streamIdleTimeoutMs,
  };
}

export async function attemptInOrder<T>(
  candidates: Candidate[],
  maxAttempts: number,
  signal: AbortSignal,
  call: (candidate: Candidate) => Promise<T>,
): Promise<AttemptOutcome<T>> {
  const failures: AttemptFailure[] = [];
  // Every candidate gets a chance; extra attempts beyond that retry from the top.
  const total = Math.max(maxAttempts, candidates.length);
  for (let attempt = 0; attempt < total; attempt++) {
    const candidate = candidates[attempt % candidates.length];
    if (attempt >= candidates.length) {
      const last = failures[failures.length - 1]?.error;
      const hinted = last instanceof UpstreamError && last.retryAfter !== undefined ? last.retryAfter * 1000 : 0;
      const backoff = Math.min(8000, 250 * 2 ** (attempt - candidates.length)) * (0.5 + Math.random() / 2);
      await sleep(Math.min(Math.max(hinted, backoff), 10_000), signal);
    }
    try {
      const value = await call(candidate);
      return { value, candidate, attempts: attempt + 1, failures };
    } catch (error) {
      if (signal.aborted) throw error;
      failures.push({ candidate, error });
      const retryable = error instanceof UpstreamError && error.retryable;
      if (!retryable || attempt === total - 1) throw new AttemptsExhausted(error, candidate, attempt + 1);
    }
  }
  throw new Error('unreachable');
}
