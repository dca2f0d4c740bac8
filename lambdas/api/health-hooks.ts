/**
 * Extension points of GET /health. Circuit breakers are another part of the product: when
 * they exist, their store registers a source here (`useBreakerSource`) and the report
 * lists their states and counts them in the score (core/health.ts).
 */
import type { BreakerState } from '../../core/health.ts';

export type BreakerSource = () => Promise<readonly BreakerState[]>;

let source: BreakerSource = async () => [];

export function useBreakerSource(next: BreakerSource): void {
  source = next;
}

export const breakerStates = (): Promise<readonly BreakerState[]> => source();
