/**
 * Bedrock errors -> UpstreamError: HTTP error responses (`x-amzn-errortype` header + `{message}` body) and
 * exception frames inside a ConverseStream (`:exception-type` header + `{message}` body).
 */
import { parseRetryAfter, upstreamHttpError, UpstreamError } from '../errors.ts';

type Headers = Record<string, string | string[] | undefined>;

/** AWS error types that mean "busy or broken right now": worth another attempt whatever the status says. */
const RETRYABLE_TYPES = new Set([
  'ThrottlingException',
  'ModelNotReadyException',
  'ServiceUnavailableException',
  'InternalServerException',
  'ModelTimeoutException',
  'ModelStreamErrorException',
  // Quota of this account/region: another deployment may have room.
  'ServiceQuotaExceededException',
]);

/** Status for each stream exception (they arrive inside a 200 response), per the ConverseStream reference. */
const STREAM_EXCEPTION_STATUS: Record<string, number> = {
  throttlingException: 429,
  serviceUnavailableException: 503,
  internalServerException: 500,
  modelStreamErrorException: 424,
  validationException: 400,
  modelTimeoutException: 408,
};

function header(headers: Headers, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/**
 * `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/` -> `ValidationException`;
 * also accepts the `__type` form `com.amazon.coral.service#ValidationException`.
 */
export function errorTypeName(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const base = raw.split(':')[0];
  const name = base.slice(base.lastIndexOf('#') + 1).trim();
  return name || undefined;
}

/** An AWS error as an UpstreamError. Stream exceptions have no upstream status (the upstream said 200). */
export function bedrockError(status: number, awsType: string | undefined, message: string, headers: Headers, inStream = false): UpstreamError {
  const upstreamStatus = inStream ? undefined : status;
  const base = upstreamHttpError(status, message, headers, awsType ?? null);
  const retryable = base.retryable || (!!awsType && RETRYABLE_TYPES.has(awsType));
  // A model-side failure (424 ModelErrorException / modelStreamErrorException) is not the caller's fault.
  const clientStatus = status === 424 ? 502 : base.status;
  const type = status === 424 ? 'api_error' : base.type;
  if (retryable === base.retryable && clientStatus === base.status && upstreamStatus === status) return base;
  return new UpstreamError(clientStatus, type, base.message, base.code, retryable, base.retryAfter ?? parseRetryAfter(headers), upstreamStatus, base.param);
}

/** Maps a Bedrock HTTP error response. */
export function fromUpstreamError(status: number, body: string, headers: Headers): UpstreamError {
  let message = body.slice(0, 2000) || `HTTP ${status}`;
  let bodyType: string | undefined;
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed === 'object') {
      const m = parsed.message ?? parsed.Message;
      if (typeof m === 'string') message = m;
      if (typeof parsed.__type === 'string') bodyType = parsed.__type;
    }
  } catch {
    /* not JSON: keep the text */
  }
  const awsType = errorTypeName(header(headers, 'x-amzn-errortype') ?? bodyType);
  return bedrockError(status, awsType, message, headers);
}

/** Maps an exception frame of a ConverseStream (`:exception-type` such as `throttlingException`). */
export function fromStreamException(exceptionType: string | undefined, body: string): UpstreamError {
  let message = body.slice(0, 2000) || 'Bedrock stream exception';
  try {
    const parsed = JSON.parse(body);
    const m = parsed?.message ?? parsed?.Message;
    if (typeof m === 'string') message = m;
    if (typeof parsed?.originalMessage === 'string' && parsed.originalMessage !== message) message = `${message} (${parsed.originalMessage})`;
  } catch {
    /* not JSON: keep the text */
  }
  const type = exceptionType ?? 'unknownException';
  const status = STREAM_EXCEPTION_STATUS[type] ?? 502;
  // Stream exceptions are camelCase; the HTTP error types are PascalCase.
  const awsType = type.charAt(0).toUpperCase() + type.slice(1);
  return bedrockError(status, awsType, message, {}, true);
}
