/** Circuit-breaker state as the admin resolve endpoint reports it; app.ts adapts the gateway's breakers. */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'unknown';

export interface BreakerInspector {
  /** State of the breaker guarding one deployment (provider + upstream model). Memory only. */
  state(provider: string, upstreamModel: string): BreakerState;
}
