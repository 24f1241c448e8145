/**
 * HTTP transport to upstreams: one undici Agent with keep-alive pools per origin, and the mapping of
 * network failures onto UpstreamError.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { UpstreamRequest } from './types.ts';
import { upstreamTimeout, upstreamUnreachable, UpstreamError } from './errors.ts';
import { Cancellation, type CancelSignal } from './cancel.ts';

/** One keep-alive agent per connect timeout in use (almost always just the default one). */
const agents = new Map<number, Agent>();
let defaultConnectTimeoutMs = 10_000;

/** Sets the connect timeout used when a provider sets none (UPSTREAM_CONNECT_TIMEOUT_MS). */
export function configureTransport(opts: { connectTimeoutMs: number }): void {
  defaultConnectTimeoutMs = opts.connectTimeoutMs;
}

function dispatcher(connectTimeoutMs = defaultConnectTimeoutMs): Agent {
  let agent = agents.get(connectTimeoutMs);
  if (!agent) {
    agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: connectTimeoutMs } });
    agents.set(connectTimeoutMs, agent);
  }
  return agent;
}

/** Closes pooled upstream connections (graceful shutdown, tests). */
export async function closeTransport(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

export interface SendOptions {
  signal?: CancelSignal;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs?: number;
}

/** undici's own timers tick about once a second; shorter first-byte timeouts get a precise timer of ours. */
const PRECISE_BELOW_MS = 2000;
const FIRST_BYTE = Symbol('first-byte timeout');

export async function send(req: UpstreamRequest, opts: SendOptions): Promise<Dispatcher.ResponseData> {
  let signal = opts.signal;
  let timer: NodeJS.Timeout | undefined;
  if (opts.firstByteTimeoutMs < PRECISE_BELOW_MS) {
    // Stays linked for the body too: a client that leaves mid-stream still aborts the upstream read.
    const own = opts.signal ? Cancellation.linked(opts.signal).cancel : new Cancellation();
    timer = setTimeout(() => own.abort(FIRST_BYTE), opts.firstByteTimeoutMs);
    signal = own;
  }
  try {
    return await request(req.url, {
      dispatcher: dispatcher(opts.connectTimeoutMs),
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      headersTimeout: opts.firstByteTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
    });
  } catch (err) {
    if (signal?.reason === FIRST_BYTE) throw upstreamTimeout('before the first byte');
    throw mapNetworkError(err, opts.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Network-level failures (not HTTP statuses) as UpstreamErrors; a caller's own abort passes through. */
export function mapNetworkError(err: unknown, signal?: CancelSignal): unknown {
  if (err instanceof UpstreamError) return err;
  if (signal?.aborted) return signal.reason ?? err;
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return upstreamTimeout('before the first byte');
  if (code === 'UND_ERR_BODY_TIMEOUT') return upstreamTimeout('waiting for more data');
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return upstreamTimeout('connecting');
  if (e?.name === 'AbortError') return err;
  return upstreamUnreachable(code ? `${code}${e.message ? ` (${e.message})` : ''}` : (e?.message ?? String(err)));
}
