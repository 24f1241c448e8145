/**
 * Errors in Anthropic's shape: `{type:'error', error:{type, message}, request_id}` with Anthropic's statuses.
 * The gateway's own errors (OpenAI-style types and statuses) are mapped here. Pure.
 */

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/** Anthropic's error type for an HTTP status. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/**
 * A gateway error status as Anthropic's status and type. 503 (upstream overloaded, gateway saturated or
 * draining) becomes Anthropic's 529 `overloaded_error`, which Anthropic clients retry with backoff; other
 * 4xx are `invalid_request_error` and other 5xx `api_error`, as Anthropic documents.
 */
export function toAnthropicError(status: number): { status: number; type: string } {
  if (status === 503 || status === 529) return { status: 529, type: 'overloaded_error' };
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { status, type };
}

/** Error types that already mean the same in Anthropic's vocabulary. */
const ANTHROPIC_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'timeout_error',
  'overloaded_error',
]);

const TYPE_ALIASES: Record<string, string> = {
  service_unavailable: 'overloaded_error',
  insufficient_quota: 'billing_error',
  conflict_error: 'conflict_error',
  server_error: 'api_error',
};

/** An error type from a mid-stream error event (no status there) in Anthropic's vocabulary. */
export function anthropicErrorType(type: string | undefined): string {
  if (type && ANTHROPIC_TYPES.has(type)) return type;
  return (type && TYPE_ALIASES[type]) || 'api_error';
}

export function anthropicErrorBody(type: string, message: string, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type, message } };
  if (requestId) body.request_id = requestId;
  return body;
}
