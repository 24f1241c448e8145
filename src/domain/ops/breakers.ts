/**
 * Circuit-breaker state as the admin resolve endpoint reports it: app.ts plugs in the gateway's breakers.
 * `unknownBreakers` remains the default for a server built without a gateway (nothing to report).
 */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'unknown';

export interface BreakerInspector {
  /** State of the breaker guarding one deployment (provider + upstream model). Memory only. */
  state(provider: string, upstreamModel: string): BreakerState;
}

export const unknownBreakers: BreakerInspector = { state: () => 'unknown' };
