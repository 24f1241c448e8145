import { AppError } from '../errors.ts';

/** Statuses worth another attempt (same or next deployment): timeouts, conflicts, throttling, server faults. */
export const isTransientStatus = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

/** A failure reported by, or while talking to, an upstream provider. */
export class UpstreamError extends AppError {
  override name = 'UpstreamError';
  constructor(
    status: number,
    type: string,
    message: string,
    code: string | null,
    /** Worth retrying on this or another deployment. */
    readonly retryable: boolean,
    retryAfter?: number,
    /** Status the upstream itself answered with, when it answered. */
    readonly upstreamStatus?: number,
    param: string | null = null,
  ) {
    super(status, type, message, code, param, retryAfter);
  }
}

/** OpenAI error `type` for a status, used when an upstream gives none. */
export function errorTypeForStatus(status: number): string {
  if (status === 400 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 408) return 'timeout_error';
  if (status === 429) return 'rate_limit_error';
  return 'api_error';
}

/** Parses a `Retry-After` header (seconds or HTTP date) or `retry-after-ms` into seconds. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms) / 1000;
  const raw = first(headers['retry-after']);
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Builds an UpstreamError from an upstream HTTP error: the provider's message is kept, client errors
 * keep their status, server faults and throttling stay retryable. Status 5xx maps to 502 for the client.
 */
export function upstreamHttpError(
  status: number,
  message: string,
  headers: Record<string, string | string[] | undefined>,
  code: string | null = null,
  type?: string,
  param: string | null = null,
): UpstreamError {
  const clientStatus = status >= 500 ? 502 : status === 401 || status === 403 ? 502 : status;
  // The caller's key is fine; ours was refused upstream: that is a gateway-side fault, not the caller's.
  const clientType = status === 401 || status === 403 ? 'api_error' : (type ?? errorTypeForStatus(status));
  const text = status === 401 || status === 403 ? `Upstream rejected the provider credentials: ${message}` : message;
  return new UpstreamError(clientStatus, clientType, text, code ?? `upstream_${status}`, isTransientStatus(status), parseRetryAfter(headers), status, param);
}

export const malformedUpstream = (detail: string) =>
  new UpstreamError(502, 'api_error', `Upstream sent malformed data: ${detail}`, 'upstream_malformed_response', true);

export const upstreamTimeout = (what: string) =>
  new UpstreamError(504, 'timeout_error', `Upstream timed out ${what}`, 'upstream_timeout', true);

export const upstreamUnreachable = (detail: string) =>
  new UpstreamError(502, 'api_error', `Upstream unreachable: ${detail}`, 'upstream_unreachable', true);
