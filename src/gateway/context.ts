import type { Principal } from '../domain/auth/principal.ts';

/** What the pipeline knows about the caller of one request. */
export interface RequestContext {
  requestId: string;
  principal: Principal;
  clientIp: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** performance.now() at admission. */
  startedAt: number;
}
