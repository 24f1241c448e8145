/**
 * The one error type every layer throws for an expected failure. HTTP handlers turn it into
 * `{ "error": { message, type, code, param } }` with `status`; anything else is a 500.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Seconds, sent as `Retry-After`. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  /** Extra response headers (e.g. rate-limit state on a 429). */
  headers?: Record<string, string>;

  withHeaders(headers: Record<string, string>): this {
    this.headers = { ...this.headers, ...headers };
    return this;
  }
}

export const badRequest = (message: string, code: string | null = 'invalid_request', param: string | null = null) =>
  new AppError(400, 'invalid_request_error', message, code, param);
export const unauthorized = (message = 'Invalid or missing API key.', code = 'invalid_api_key') =>
  new AppError(401, 'authentication_error', message, code);
export const forbidden = (message: string, code = 'forbidden') => new AppError(403, 'permission_error', message, code);
export const notFound = (message: string, code = 'not_found', param: string | null = null) =>
  new AppError(404, 'not_found_error', message, code, param);
export const conflict = (message: string, code = 'conflict') => new AppError(409, 'conflict_error', message, code);
export const unavailable = (message: string, code = 'service_unavailable', retryAfter?: number) =>
  new AppError(503, 'service_unavailable', message, code, null, retryAfter);

/** The HTTP status an error becomes: its own for an AppError, 500 for anything unexpected. */
export const httpStatusOf = (err: unknown): number => (err instanceof AppError ? err.status : 500);
