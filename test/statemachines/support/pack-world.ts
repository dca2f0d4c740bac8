/**
 * A fake world for the pack machine: fakes for its Lambda tasks, and for the child task
 * (`states:startExecution.sync:2`) a real run of the committed job machine against a
 * JobWorld per job, answering as the service does: `{Status, Output}` on success, an
 * error named States.TaskFailed when the child execution fails.
 */
import { setTimeout as tick } from 'node:timers/promises';
import type { StateMachineDefinition } from '../../../statemachines/asl-types.ts';
import { allStates, functionIdOf } from './asl.ts';
import { CallLog, lambdaFake, type Faults } from './call-log.ts';
import { JobWorld, type JobScenario } from './job-world.ts';
import { namedError } from './named-error.ts';
import { runMachine, type ExecutionReport, type Json, type TaskHandler } from './run-machine.ts';

export interface PackScenario {
  readonly packId?: string;
  readonly jobs: number;
  /** Scenario of a job, by job id (`job-1` …); other jobs run the happy path. */
  readonly jobScenarios?: Readonly<Record<string, JobScenario>>;
  /** Scripted faults of the pack's own states, by state name. */
  readonly faults?: Faults;
}

interface StartExecutionInput {
  readonly StateMachineArn: string;
  readonly Name: string;
  readonly Input: { readonly packId: string; readonly jobId: string; readonly [key: string]: unknown };
}

export interface ChildRun {
  readonly name: string;
  readonly input: StartExecutionInput['Input'];
  readonly report: ExecutionReport;
}

const START_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

export class PackWorld {
  readonly log: CallLog;
  readonly tasks: Readonly<Record<string, TaskHandler>>;
  readonly jobs = new Map<string, JobWorld>();
  readonly children: ChildRun[] = [];
  readonly executionId = 'arn:aws:states:us-east-1:000000000000:execution:pack:test';
  readonly packId: string;
  /** Most child executions running at once. */
  maxConcurrentChildren = 0;
  readonly #jobDef: StateMachineDefinition;
  readonly #scenario: PackScenario;
  #running = 0;

  constructor(packDef: StateMachineDefinition, jobDef: StateMachineDefinition, scenario: PackScenario) {
    this.#jobDef = jobDef;
    this.#scenario = scenario;
    this.packId = scenario.packId ?? 'pack-1';
    this.log = new CallLog(scenario.faults);
    const tasks: Record<string, TaskHandler> = {};
    for (const { name, state } of allStates(packDef)) {
      if (state.Type !== 'Task') continue;
      const fn = functionIdOf(state);
      if (fn === 'PackLoad') tasks[name] = lambdaFake(this.log, name, (s) => ({ ...s, jobs: this.#jobList() }));
      else if (fn === 'PackFinalize') tasks[name] = lambdaFake(this.log, name, (s) => ({ ...s, pack: { status: this.#finalStatus() } }));
      else if (fn === 'PackFail') tasks[name] = lambdaFake(this.log, name, (s) => ({ ...s, pack: { status: 'failed' } }));
      else if (state['Resource'] === START_SYNC) tasks[name] = this.#child(name);
    }
    this.tasks = tasks;
  }

  #jobList() {
    return Array.from({ length: this.#scenario.jobs }, (_, i) => ({
      packId: this.packId,
      jobId: `job-${i + 1}`,
      executionName: `${this.packId}-job-${i + 1}-run-1`,
    }));
  }

  #finalStatus(): string {
    const failed = this.children.filter((c) => c.report.status === 'FAILED').length;
    if (failed === 0) return 'complete';
    return failed === this.children.length ? 'failed' : 'completed_with_failures';
  }

  #child(name: string): TaskHandler {
    return async (raw: Json) => {
      const input = raw as unknown as StartExecutionInput;
      this.log.enter(name, undefined, input);
      this.#running += 1;
      this.maxConcurrentChildren = Math.max(this.maxConcurrentChildren, this.#running);
      try {
        // Yield once so every child the Map admits is running before any of them ends.
        await tick(0);
        const jobId = input.Input.jobId;
        const world = this.jobs.get(jobId)
          ?? new JobWorld(this.#jobDef, { packId: input.Input.packId, jobId, ...this.#scenario.jobScenarios?.[jobId] },
            `arn:aws:states:us-east-1:000000000000:execution:job:${input.Name}`);
        this.jobs.set(jobId, world);
        const report = await runMachine(this.#jobDef, input.Input as unknown as Json, { tasks: world.tasks, executionId: world.executionId });
        this.children.push({ name: input.Name, input: input.Input, report });
        if (report.status === 'FAILED') throw namedError('States.TaskFailed', JSON.stringify(report.error));
        return { Status: 'SUCCEEDED', Output: report.output } as Json;
      } finally {
        this.#running -= 1;
      }
    };
  }
}
