/**
 * HTTP transport to upstreams: one undici Agent with keep-alive pools per origin, and the mapping of
 * network failures onto UpstreamError.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { UpstreamRequest } from './types.ts';
import { upstreamTimeout, upstreamUnreachable, UpstreamError } from './errors.ts';

let agent: Agent | undefined;

function dispatcher(): Agent {
  agent ??= new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: 10_000 } });
  return agent;
}

/** Closes pooled upstream connections (graceful shutdown, tests). */
export async function closeTransport(): Promise<void> {
  const a = agent;
  agent = undefined;
  await a?.close();
}

export interface SendOptions {
  signal?: AbortSignal;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

export async function send(req: UpstreamRequest, opts: SendOptions): Promise<Dispatcher.ResponseData> {
  try {
    return await request(req.url, {
      dispatcher: dispatcher(),
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: opts.signal,
      headersTimeout: opts.firstByteTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
    });
  } catch (err) {
    throw mapNetworkError(err, opts.signal);
  }
}

/** Network-level failures (not HTTP statuses) as UpstreamErrors; a caller's own abort passes through. */
export function mapNetworkError(err: unknown, signal?: AbortSignal): unknown {
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
