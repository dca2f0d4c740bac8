/**
 * The benchmark's baseline (not deployed): the job machine's stages and handlers under a
 * blanket policy, what a pipeline without a taxonomy does. Every Task retries every error
 * (States.ALL) 3 times at a fixed interval and then records the failure; nothing is
 * classified and no recovery strategy runs. bench/recovery.ts runs the same workload and
 * faults through it and through the job machine, and reports both.
 *
 * One detail keeps the comparison fair: a retried GPU task must be a new GPU attempt. The
 * worker ignores a second delivery of an attempt it has already answered (SQS duplicates),
 * so re-sending the same message would hang until the heartbeat lapses. The GPU stage is
 * therefore a Parallel of "prepare" (which opens a new attempt) and "run", and the blanket
 * Retry sits on the Parallel: each retry re-sends the GPU task as attempt n+1.
 */
import type { Catcher, Retrier, State, StateMachineDefinition } from './asl-types.ts';
import { JOB_STATES, buildJobMachine } from './job.ts';

/** The blanket policy: every error, 3 retries, a fixed 2 s apart (BackoffRate 1), no jitter. */
export const BLANKET_RETRY: Retrier = { ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 1 };

export const BASELINE_STATES = {
  gpuStage: 'Run the GPU stage',
} as const;

/** The job machine's recovery states (and the emergency-stop exit, a classification too): the baseline has none. */
export const RECOVERY_STATE_NAMES: readonly string[] = [
  JOB_STATES.reduce, JOB_STATES.switchModel, JOB_STATES.resume, JOB_STATES.resegment, JOB_STATES.planFix,
  JOB_STATES.backoff, JOB_STATES.backoffWait, JOB_STATES.stopped,
];

const catchAll = (next: string, resultPath = '$.lastError'): Catcher[] => [{ ErrorEquals: ['States.ALL'], Next: next, ResultPath: resultPath }];

/** A Task under the blanket policy; without `catchers` it leaves catching to the state that encloses it. */
function blanketTask(state: State, catchers?: Catcher[]): State {
  const { Retry: _retry, Catch: _catch, ...rest } = state;
  return { ...rest, Retry: [{ ...BLANKET_RETRY }], ...(catchers !== undefined && { Catch: catchers }) };
}

function stripCatch(state: State): State {
  const { Retry: _retry, Catch: _catch, ...rest } = state;
  return rest;
}

/** Prepare (a new attempt) and run, retried together: each blanket retry re-sends the GPU task as attempt n+1. */
function gpuStage(prepare: State, run: State): State {
  const { Next: next, ...runRest } = stripCatch(run);
  return {
    Type: 'Parallel',
    Comment: 'Blanket retry of the GPU stage: every failure re-runs prepare + inpaint as a new GPU attempt (3 times, fixed interval), then records the failure.',
    Branches: [{
      StartAt: JOB_STATES.prepareGpu,
      States: {
        [JOB_STATES.prepareGpu]: blanketTask(prepare),
        [JOB_STATES.runGpu]: { ...runRest, Comment: `${String(run.Comment)} Retried by the enclosing GPU stage, as a new attempt.`, End: true },
      },
    }],
    // The branch's output is the job's state; Parallel wraps it in a one-element array.
    OutputPath: '$[0]',
    Retry: [{ ...BLANKET_RETRY }],
    Catch: catchAll(JOB_STATES.recordFailure),
    Next: String(next),
  };
}

export function buildBaselineJobMachine(): StateMachineDefinition {
  const job = buildJobMachine();
  const S = JOB_STATES;
  const src = (name: string): State => {
    const s = job.States[name];
    if (s === undefined) throw new Error(`the job machine has no state '${name}'`);
    return s;
  };
  const states: Record<string, State> = {};
  for (const [name, state] of Object.entries(job.States)) {
    if (RECOVERY_STATE_NAMES.includes(name) || name === S.runGpu) continue;
    if (name === S.prepareGpu) {
      states[BASELINE_STATES.gpuStage] = gpuStage(src(S.prepareGpu), src(S.runGpu));
    } else if (state.Type === 'Task') {
      // The failure recorder must not loop into itself: anything it cannot record ends the run.
      states[name] = blanketTask(state, name === S.recordFailure ? catchAll(S.failed, '$.recordError') : catchAll(S.recordFailure));
    } else if (state.Type === 'Map') {
      const processor = state['ItemProcessor'] as { ProcessorConfig: unknown; StartAt: string; States: Record<string, State> };
      states[name] = {
        ...stripCatch(state),
        ItemProcessor: {
          ...processor,
          States: Object.fromEntries(Object.entries(processor.States).map(([n, s]) => [n, s.Type === 'Task' ? blanketTask(s) : s])),
        },
        Catch: catchAll(S.recordFailure),
      };
    } else {
      states[name] = state;
    }
  }
  // Choices that led to "Prepare the GPU workflow" lead to the GPU stage now.
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== 'Choice') continue;
    const choices = (state['Choices'] as { Next: string }[]).map((c) => (c.Next === S.prepareGpu ? { ...c, Next: BASELINE_STATES.gpuStage } : c));
    states[name] = { ...state, Choices: choices, ...(state['Default'] === S.prepareGpu && { Default: BASELINE_STATES.gpuStage }) };
  }
  return {
    Comment: 'Benchmark baseline (not deployed): the VTO job stages with a blanket policy — every error retried 3 times at a fixed interval, no classification, no recovery strategies.',
    StartAt: job.StartAt,
    States: states,
  };
}
