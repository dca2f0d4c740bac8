/** Recovery strategies in words (the taxonomy's names stay visible next to them); one for each of core/taxonomy.ts's (test/console/app-lists.test.ts). */
export const STRATEGY_LABELS = {
  RETRY_BACKOFF: 'Retry with exponential backoff',
  REDUCE_PARAMS: 'Reduce GPU parameters',
  SWITCH_MODEL: 'Switch model',
  RESUME_CHECKPOINT: 'Resume from checkpoint',
  RESEGMENT: 'Re-segment with alternative prompts',
  FIX_AND_RETRY: 'Plan a fix and inpaint again',
  ABORT: 'Abort: not recoverable',
  NEEDS_INTERVENTION: 'Stop for a person',
  STOP: 'Stopped by the emergency stop',
};

export const strategyLabel = (s) => STRATEGY_LABELS[s] ?? String(s);
