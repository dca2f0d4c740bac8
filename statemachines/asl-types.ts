/** The subset of Amazon States Language (JSONPath) the pipeline's machines use. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  BackoffRate: number;
  MaxAttempts: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
  Comment?: string;
}
export interface StateBase {
  Type: string;
  Comment: string;
  Next?: string;
  End?: boolean;
}
export type State = StateBase & Record<string, unknown>;
export interface StateMachineDefinition {
  Comment: string;
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}
