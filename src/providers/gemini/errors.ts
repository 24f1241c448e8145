/**
 * Google API errors (`{ error: { code, message, status, details } }`) as UpstreamErrors, for HTTP error
 * responses and for error objects that arrive inside a 200 stream.
 */
import { parseRetryAfter, upstreamHttpError, UpstreamError } from '../errors.ts';
import type { GeminiErrorBody } from './wire.ts';

type Headers = Record<string, string | string[] | undefined>;

/** HTTP status for a google.rpc status name, for error objects that carry no numeric code. */
const STATUS_BY_NAME: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** Errors come as an object, or (non-SSE stream endpoints) as a one-element array of them. */
function errorObject(parsed: unknown): GeminiErrorBody | undefined {
  const top = Array.isArray(parsed) ? parsed[0] : parsed;
  const e = (top as { error?: unknown } | null)?.error;
  return e && typeof e === 'object' ? (e as GeminiErrorBody) : undefined;
}

/** `RetryInfo.retryDelay` ("37s", "1.5s") in seconds. */
function retryDelaySeconds(e: GeminiErrorBody): number | undefined {
  for (const d of Array.isArray(e.details) ? e.details : []) {
    const m = typeof d?.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Google puts its back-off hint in the body; use it when there is no Retry-After header. */
function withRetryHint(headers: Headers, e: GeminiErrorBody): Headers {
  if (parseRetryAfter(headers) !== undefined) return headers;
  const delay = retryDelaySeconds(e);
  return delay === undefined ? headers : { ...headers, 'retry-after': String(delay) };
}

export function fromUpstreamError(status: number, body: string, headers: Headers): UpstreamError {
  let message = body.slice(0, 2000) || `HTTP ${status}`;
  let code: string | null = null;
  let hdrs = headers;
  try {
    const e = errorObject(JSON.parse(body));
    if (e) {
      if (typeof e.message === 'string' && e.message) message = e.message;
      if (typeof e.status === 'string' && e.status) code = e.status;
      hdrs = withRetryHint(headers, e);
    }
  } catch {
    /* not JSON (an HTML error page from a proxy): keep the text */
  }
  return upstreamHttpError(status, message, hdrs, code);
}

/** An error object found in a 200 body or a stream event. */
export function errorFromBody(e: GeminiErrorBody, fallbackStatus = 502): UpstreamError {
  const byCode = typeof e.code === 'number' && e.code >= 400 && e.code < 600 ? e.code : undefined;
  const status = byCode ?? (typeof e.status === 'string' ? STATUS_BY_NAME[e.status] : undefined) ?? fallbackStatus;
  const message = typeof e.message === 'string' && e.message ? e.message : 'Upstream reported an error';
  return upstreamHttpError(status, message, withRetryHint({}, e), typeof e.status === 'string' ? e.status : null);
}

/** A request we cannot translate: the caller's fault, not worth retrying elsewhere. */
export const invalidRequest = (message: string, param: string | null = null) =>
  new UpstreamError(400, 'invalid_request_error', message, 'invalid_request', false, undefined, undefined, param);
