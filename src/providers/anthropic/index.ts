// Placeholder until the anthropic adapter lands.
import type { ChatAdapter } from '../types.ts';
import { UpstreamError } from '../errors.ts';
const unsupported = (): never => {
  throw new UpstreamError(501, 'api_error', 'The anthropic wire format is not implemented yet', 'not_implemented', false);
};
export const anthropicAdapter: ChatAdapter = {
  format: 'anthropic',
  toUpstreamRequest: unsupported,
  fromUpstreamResponse: unsupported,
  createStreamDecoder: unsupported,
  fromUpstreamError: (status, body) => new UpstreamError(502, 'api_error', body, null, false, undefined, status),
};
