/**
 * Optional OpenTelemetry tracing (off by default; TRACING_ENABLED=true or OTEL_EXPORTER_OTLP_ENDPOINT).
 * Spans are made with @opentelemetry/api only: it is a no-op until a TracerProvider is registered. When
 * tracing is on we try to register the OTLP/HTTP SDK (`@opentelemetry/sdk-trace-node` and
 * `@opentelemetry/exporter-trace-otlp-http`, which the operator installs; they are not dependencies, to keep
 * the install small); without them, spans go to whatever provider the host process registered (e.g. via
 * `node --import @opentelemetry/auto-instrumentations-node/register`).
 *
 * One span per upstream attempt ("upstream.chat", "upstream.chat_stream", "upstream.embeddings"), wrapping
 * the provider clients, so retries and failovers show up as sibling spans. A streaming span ends when the
 * stream does.
 */
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Config } from '../config/schema.ts';
import type { ProviderClient } from '../providers/client.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamTarget } from '../providers/types.ts';
import { VERSION } from '../version.ts';
import type { Logger } from './logger.ts';

export interface Tracing {
  enabled: boolean;
  shutdown(): Promise<void>;
}

export const tracingEnabled = (config: Config) => config.tracing.enabled || Boolean(config.tracing.endpoint);

/** Registers an OTLP exporter when the SDK packages are installed. */
export async function startTracing(config: Config, log: Logger): Promise<Tracing> {
  if (!tracingEnabled(config)) return { enabled: false, shutdown: async () => {} };
  const sdkName = '@opentelemetry/sdk-trace-node';
  const exporterName = '@opentelemetry/exporter-trace-otlp-http';
  try {
    // Variable specifiers: optional packages, resolved only at run time.
    const sdk = (await import(sdkName)) as any;
    const otlp = (await import(exporterName)) as any;
    const base = config.tracing.endpoint?.replace(/\/+$/, '');
    const exporter = new otlp.OTLPTraceExporter(base ? { url: `${base}/v1/traces` } : {});
    const provider = new sdk.NodeTracerProvider({ spanProcessors: [new sdk.BatchSpanProcessor(exporter)] });
    provider.register();
    log.info({ endpoint: base ?? '(OTEL_* environment defaults)' }, 'tracing: exporting spans over OTLP/HTTP');
    return { enabled: true, shutdown: () => provider.shutdown() };
  } catch {
    log.warn(`tracing is on but ${sdkName} / ${exporterName} are not installed: spans go to the globally registered TracerProvider, if any`);
    return { enabled: true, shutdown: async () => {} };
  }
}

const tracer = () => trace.getTracer('switchyard', VERSION);

function attrs(op: string, t: UpstreamTarget) {
  return { 'gen_ai.operation.name': op, 'gen_ai.system': t.provider.id, 'gen_ai.request.model': t.model, 'switchyard.provider.type': t.provider.type };
}

function fail(span: Span, err: unknown): void {
  const e = err as { status?: number; code?: string; message?: string };
  if (typeof e?.status === 'number') span.setAttribute('http.response.status_code', e.status);
  if (typeof e?.code === 'string') span.setAttribute('error.type', e.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message?.slice(0, 200) });
  span.end();
}

async function inSpan<T>(name: string, op: string, target: UpstreamTarget, call: () => Promise<T>): Promise<T> {
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes: attrs(op, target) });
  try {
    const out = await call();
    span.end();
    return out;
  } catch (err) {
    fail(span, err);
    throw err;
  }
}

export function tracedClient(client: ProviderClient): ProviderClient {
  return {
    chat: (target, req, opts) => inSpan('upstream.chat', 'chat', target, () => client.chat(target, req, opts)),
    embeddings: (target, req, opts) => inSpan('upstream.embeddings', 'embeddings', target, () => client.embeddings(target, req, opts)),
    async chatStream(target, req, opts) {
      const span = tracer().startSpan('upstream.chat_stream', { kind: SpanKind.CLIENT, attributes: { ...attrs('chat', target), 'gen_ai.request.stream': true } });
      let stream;
      try {
        stream = await client.chatStream(target, req, opts);
      } catch (err) {
        fail(span, err);
        throw err;
      }
      span.addEvent('response_headers');
      const inner = stream;
      let chunks = 0;
      const finish = () => {
        if (!span.isRecording()) return;
        span.setAttribute('switchyard.stream.chunks', chunks);
        if (inner.usage) {
          span.setAttribute('gen_ai.usage.input_tokens', inner.usage.input);
          span.setAttribute('gen_ai.usage.output_tokens', inner.usage.output);
        }
        span.end();
      };
      return {
        get usage() {
          return inner.usage;
        },
        read: () =>
          inner.read().then(
            (batch) => {
              if (!batch) finish();
              else if (chunks === 0) span.addEvent('first_chunk');
              if (batch) chunks += batch.length;
              return batch;
            },
            (err: unknown) => {
              if (span.isRecording()) fail(span, err);
              throw err;
            },
          ),
        close: () => {
          // Left early (client gone): the span still ends.
          if (span.isRecording()) span.end();
          inner.close();
        },
      };
    },
  };
}

/** Wraps every provider client with spans. Only called when tracing is on: zero cost otherwise. */
export function traceProviders(registry: ProviderRegistry): void {
  for (const entry of registry.all()) entry.client = tracedClient(entry.client);
}
