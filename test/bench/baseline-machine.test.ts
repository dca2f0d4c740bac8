/**
 * The benchmark's baseline machine, as committed: the job machine's stages under a blanket
 * policy — every Task retries States.ALL 3 times at a fixed interval, every catch records
 * the failure, no recovery state exists — and a valid machine both validators accept.
 */
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import type { StateMachineDefinition } from '../../statemachines/asl-types.ts';
import { BASELINE_STATES, BLANKET_RETRY, RECOVERY_STATE_NAMES, buildBaselineJobMachine } from '../../statemachines/baseline.ts';
import { JOB_STATES, buildJobMachine } from '../../statemachines/job.ts';
import { renderAsl } from '../../statemachines/render.ts';
import { allStates, catchersOf, functionIdOf, retriersOf } from '../statemachines/support/asl.ts';
import { validateAsl } from '../statemachines/support/validate-asl.ts';

const path = new URL('../../statemachines/baseline.asl.json', import.meta.url);
const text = readFileSync(path, 'utf8');
const baseline = JSON.parse(text) as StateMachineDefinition;
const states = allStates(baseline);

describe('the baseline machine (statemachines/baseline.asl.json)', () => {
  it('is exactly what its builder renders', () => {
    expect(text).toBe(renderAsl(buildBaselineJobMachine()));
  });

  it('passes asl-validator with path and ARN checks, and the local runner accepts it', () => {
    expect(validateAsl(text)).toEqual({ valid: true, errors: '' });
    expect(() => new StateMachine(baseline as unknown as ConstructorParameters<typeof StateMachine>[0], { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it('retries every error 3 times at a fixed interval on every Task (the GPU task through its GPU stage)', () => {
    const tasks = states.filter(({ state }) => state.Type === 'Task');
    const retried = tasks.filter(({ name }) => name !== JOB_STATES.runGpu);
    expect(retried.length).toBeGreaterThan(10);
    for (const { name, state } of retried) {
      expect({ name, retry: retriersOf(state) }).toEqual({ name, retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: BLANKET_RETRY.IntervalSeconds, MaxAttempts: 3, BackoffRate: 1 }] });
    }
    const stage = states.find((s) => s.name === BASELINE_STATES.gpuStage)!;
    expect(retriersOf(stage.state)).toEqual([{ ErrorEquals: ['States.ALL'], IntervalSeconds: BLANKET_RETRY.IntervalSeconds, MaxAttempts: 3, BackoffRate: 1 }]);
    expect(states.find((s) => s.name === JOB_STATES.runGpu)?.within).toEqual([BASELINE_STATES.gpuStage]);
  });

  it('classifies nothing: every Catch is States.ALL alone, to the failure recorder (which ends the run)', () => {
    for (const { name, state } of states) {
      const catchers = catchersOf(state);
      if (catchers.length === 0) continue;
      const target = name === JOB_STATES.recordFailure ? JOB_STATES.failed : JOB_STATES.recordFailure;
      expect({ name, catchers: catchers.map((c) => ({ ErrorEquals: c.ErrorEquals, Next: c.Next })) }).toEqual({ name, catchers: [{ ErrorEquals: ['States.ALL'], Next: target }] });
    }
  });

  it('has no recovery state, and the same stages and handlers as the job machine', () => {
    const names = states.map((s) => s.name);
    expect(names.filter((n) => RECOVERY_STATE_NAMES.includes(n))).toEqual([]);
    const fns = (def: StateMachineDefinition) => new Set(allStates(def).flatMap(({ state }) => functionIdOf(state) ?? []));
    const recoveryFns = ['ReduceParams', 'SwitchModel', 'ResumeCheckpoint', 'Resegment', 'PlanFix', 'BackoffGpu'];
    expect([...fns(baseline)].sort()).toEqual([...fns(buildJobMachine())].filter((f) => !recoveryFns.includes(f)).sort());
  });

  it('sends the GPU task with the attempt the prepare step opened, so each blanket retry is a new attempt', () => {
    const stage = states.find((s) => s.name === BASELINE_STATES.gpuStage)!.state;
    const branch = (stage['Branches'] as { StartAt: string; States: Record<string, { Next?: string }> }[])[0]!;
    expect(branch.StartAt).toBe(JOB_STATES.prepareGpu);
    expect(branch.States[JOB_STATES.prepareGpu]?.Next).toBe(JOB_STATES.runGpu);
  });
});
