/**
 * The classifier Lambdas use: the built-in rules plus the operator-taught patterns, read
 * from the control table at most every TAUGHT_TTL_MS per container (taught-patterns.ts).
 */
import type { Classifier } from '../core/classifier.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { logger } from './logging.ts';
import { TAUGHT_PATTERNS_ACCESS, TaughtPatternStore, taughtCache } from './taught-patterns.ts';
import { onReset } from './process-caches.ts';

export const TAUGHT_CLASSIFIER_ACCESS = TAUGHT_PATTERNS_ACCESS.read;

export const taughtPatternStore = new TaughtPatternStore({ client: documentClient, table: () => config().controlTable });

const cache = taughtCache({
  read: () => taughtPatternStore.read(),
  onError: (e) => logger.warn('taught classifier patterns not read; classifying with the last copy', { error: e as Error }),
});

export function currentClassifier(): Promise<Classifier> {
  return cache.classifier();
}

/** After this container saved a change: its own next failure uses it at once. */
export function forgetTaughtPatterns(): void {
  cache.forget();
}
onReset(forgetTaughtPatterns);
