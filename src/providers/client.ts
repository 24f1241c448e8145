/**
 * ProviderClient: what the gateway calls. For HTTP wire formats it composes an adapter's pure
 * translation with the transport; in-process providers (mock) implement it directly.
 */
import type { ChatAdapter, ChatRequest, ChatResult, EmbeddingsRequest, EmbeddingsResult, UpstreamTarget } from './types.ts';
import { DecodedBodyStream, type ChatStream } from './chat-stream.ts';
import { dispatchStream, ErrorBody, mapNetworkError, send, type SendOptions } from './transport.ts';
import { malformedUpstream, UpstreamError } from './errors.ts';
import type { CancelSignal } from './cancel.ts';

export type CallOptions = SendOptions;

export type { ChatStream } from './chat-stream.ts';

export interface ProviderClient {
  chat(target: UpstreamTarget, req: ChatRequest, opts: CallOptions): Promise<ChatResult>;
  /** Resolves once the upstream accepted the request (2xx headers); errors before that reject. */
  chatStream(target: UpstreamTarget, req: ChatRequest, opts: CallOptions): Promise<ChatStream>;
  embeddings(target: UpstreamTarget, req: EmbeddingsRequest, opts: CallOptions): Promise<EmbeddingsResult>;
}

async function readError(adapter: ChatAdapter, res: { statusCode: number; headers: Record<string, any>; body: any }) {
  let text = '';
  try {
    text = await res.body.text();
  } catch {
    /* body unreadable: the status alone will do */
  }
  return adapter.fromUpstreamError(res.statusCode, text, res.headers);
}

async function readJson(res: { body: { text(): Promise<string> } }, signal?: CancelSignal): Promise<unknown> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw mapNetworkError(err, signal);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw malformedUpstream(`response is not JSON: ${text.slice(0, 200)}`);
  }
}

export function httpProviderClient(adapter: ChatAdapter): ProviderClient {
  return {
    async chat(target, req, opts) {
      const res = await send(await adapter.toUpstreamRequest(target, req, false), opts);
      if (res.statusCode < 200 || res.statusCode >= 300) throw await readError(adapter, res);
      return adapter.fromUpstreamResponse(await readJson(res, opts.signal), target, req);
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
      const res = await send(await adapter.toEmbeddingsRequest(target, req), opts);
      if (res.statusCode < 200 || res.statusCode >= 300) throw await readError(adapter, res);
      return adapter.fromEmbeddingsResponse(await readJson(res, opts.signal), target, req);
    },
  };
}
