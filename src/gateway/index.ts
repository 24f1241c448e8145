/** The inference gateway: routing, pipelines and recording, assembled from the app's parts. */
import type { Config } from '../config/schema.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { Catalog } from '../domain/catalog/catalog.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RequestLogWriter } from '../telemetry/request-log.ts';
import { Router } from './router.ts';
import { Recorder } from './record.ts';
import { ChatPipeline } from './chat.ts';
import { EmbeddingsPipeline } from './embeddings.ts';

export class Gateway {
  readonly router: Router;
  readonly chat: ChatPipeline;
  readonly embeddings: EmbeddingsPipeline;

  constructor(config: Config, registry: ProviderRegistry, catalog: Catalog, metrics: Metrics, requestLog: RequestLogWriter) {
    this.router = new Router(config, registry, catalog);
    const recorder = new Recorder(metrics, requestLog);
    this.chat = new ChatPipeline(config, this.router, recorder);
    this.embeddings = new EmbeddingsPipeline(config, this.router, recorder);
  }
}

export type { RequestContext } from './context.ts';
export type { ChatOutcome, StreamItem } from './chat.ts';
