import type { Principal } from '../domain/auth/principal.ts';
import type { CancelSignal } from '../providers/cancel.ts';

/** What the pipeline knows about the caller of one request. */
export interface RequestContext {
  requestId: string;
  principal: Principal;
  clientIp: string;
  /** Aborted when the client goes away. */
  signal: CancelSignal;
  /** performance.now() at admission. */
  startedAt: number;
}
