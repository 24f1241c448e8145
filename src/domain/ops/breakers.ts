/**
 * PLACEHOLDER for the traffic-control work: circuit-breaker state as the admin resolve endpoint reports it.
 * Until breakers exist every deployment reports "unknown". The breaker implementation replaces
 * `services.breakers` with its own BreakerInspector; nothing else needs to change.
 */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'unknown';

export interface BreakerInspector {
  /** State of the breaker guarding one deployment (provider + upstream model). Memory only. */
  state(provider: string, upstreamModel: string): BreakerState;
}

export const unknownBreakers: BreakerInspector = { state: () => 'unknown' };
