/**
 * ProviderClient: what the gateway calls. For HTTP wire formats it composes an adapter's pure
 * translation with the transport; in-process providers (mock) implement it directly.
 */
import type { ChatAdapter, ChatRequest, ChatResult, EmbeddingsRequest, EmbeddingsResult, UpstreamRequest, UpstreamTarget } from './types.ts';
import { DecodedBodyStream, type ChatStream } from './chat-stream.ts';
import { dispatchStream, ErrorBody, TextBody, type SendOptions } from './transport.ts';
import { malformedUpstream, UpstreamError } from './errors.ts';

export type CallOptions = SendOptions;

export type { ChatStream } from './chat-stream.ts';

export interface ProviderClient {
  chat(target: UpstreamTarget, req: ChatRequest, opts: CallOptions): Promise<ChatResult>;
  /** Resolves once the upstream accepted the request (2xx headers); errors before that reject. */
  chatStream(target: UpstreamTarget, req: ChatRequest, opts: CallOptions): Promise<ChatStream>;
  embeddings(target: UpstreamTarget, req: EmbeddingsRequest, opts: CallOptions): Promise<EmbeddingsResult>;
}

/** Sends a request whose answer is one JSON document; an error status becomes the adapter's error. */
async function fetchJson(adapter: ChatAdapter, req: UpstreamRequest, opts: SendOptions): Promise<unknown> {
  const res = await dispatchStream(req, opts, (status, headers) => (status >= 300 ? new ErrorBody(status, headers) : new TextBody(status, headers)));
  if (res instanceof ErrorBody) throw adapter.fromUpstreamError(res.statusCode, await res.text, res.headers);
  const text = await res.text;
  try {
    return JSON.parse(text);
  } catch {
    throw malformedUpstream(`response is not JSON: ${text.slice(0, 200)}`);
  }
}

export function httpProviderClient(adapter: ChatAdapter): ProviderClient {
  return {
    async chat(target, req, opts) {
      return adapter.fromUpstreamResponse(await fetchJson(adapter, await adapter.toUpstreamRequest(target, req, false), opts), target, req);
    },

    async chatStream(target, req, opts) {
      const upstreamReq = await adapter.toUpstreamRequest(target, req, true);
      const res = await dispatchStream(upstreamReq, opts, (status, headers, control) =>
        status >= 300 ? new ErrorBody(status, headers) : new DecodedBodyStream(control, adapter.createStreamDecoder(target, req)),
      );
      if (res instanceof ErrorBody) throw adapter.fromUpstreamError(res.statusCode, await res.text, res.headers);
      return res;
    },

    async embeddings(target, req, opts) {
      if (!adapter.toEmbeddingsRequest || !adapter.fromEmbeddingsResponse) {
        throw new UpstreamError(400, 'invalid_request_error', `Provider ${target.provider.id} does not offer embeddings`, 'embeddings_unsupported', false);
      }
      return adapter.fromEmbeddingsResponse(await fetchJson(adapter, await adapter.toEmbeddingsRequest(target, req), opts), target, req);
    },
  };
}
