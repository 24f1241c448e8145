/**
 * Anthropic error bodies (`{type:'error', error:{type, message}}`), as HTTP responses or stream `error`
 * events, mapped onto UpstreamError.
 */
import { parseRetryAfter, upstreamHttpError, UpstreamError } from '../errors.ts';
import type { WireError } from './wire.ts';

type Headers = Record<string, string | string[] | undefined>;

/** The HTTP status Anthropic pairs with each error type (used for stream error events, which arrive on a 200). */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** Error types that mean the same on the OpenAI surface; others fall back to the type for the status. */
const SHARED_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'rate_limit_error', 'api_error']);

export const statusForErrorType = (type: string | undefined): number => (type && STATUS_BY_TYPE[type]) || 500;

/**
 * One Anthropic error as an UpstreamError. Overload (HTTP 529 or `overloaded_error`) is Anthropic's own
 * "busy, try again": retryable, and a 503 for the client rather than a generic 502.
 */
export function anthropicError(status: number, type: string | undefined, message: string, headers: Headers, upstreamStatus?: number): UpstreamError {
  if (status === 529 || type === 'overloaded_error') {
    return new UpstreamError(503, 'overloaded_error', message, 'upstream_overloaded', true, parseRetryAfter(headers), upstreamStatus);
  }
  const err = upstreamHttpError(status, message, headers, null, type && SHARED_TYPES.has(type) ? type : undefined);
  if (upstreamStatus === undefined) {
    // A stream error event: same mapping, but the upstream never answered with that status.
    return new UpstreamError(err.status, err.type, err.message, err.code, err.retryable, err.retryAfter, undefined, err.param);
  }
  return err;
}

/** An error object from a stream `error` event or a JSON body with `type: 'error'`. */
export function errorFromWire(error: WireError | undefined, headers: Headers = {}, httpStatus?: number): UpstreamError {
  const type = typeof error?.type === 'string' ? error.type : undefined;
  const message = typeof error?.message === 'string' && error.message ? error.message : `Anthropic ${type ?? 'error'}`;
  return anthropicError(httpStatus ?? statusForErrorType(type), type, message, headers, httpStatus);
}

export function fromUpstreamError(status: number, body: string, headers: Headers): UpstreamError {
  let error: WireError | undefined;
  try {
    const parsed = JSON.parse(body);
    const e = parsed?.error;
    if (e && typeof e === 'object') error = e as WireError;
    else if (typeof e === 'string') error = { type: '', message: e };
  } catch {
    /* not JSON (a proxy's HTML page, say): keep the text */
  }
  if (!error?.message) error = { type: error?.type ?? '', message: body.slice(0, 2000) || `HTTP ${status}` };
  return anthropicError(status, error.type || undefined, error.message, headers, status);
}
