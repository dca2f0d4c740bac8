/**
 * A fake world for the job machine: one fake per Task of the committed job.asl.json, found
 * by the function its placeholder names (Lambda tasks) or by its resource (the GPU task).
 * The fakes keep what DynamoDB would (checkpoints, strategy runs) and bound each recovery
 * strategy as the real handlers do: past the taxonomy's maxStrategyAttempts, a strategy
 * throws Recovery.Exhausted.
 */
import { RecoveryExhaustedError } from '../../../core/errors.ts';
import { gpuTaskMessageSchema, type GpuTask, type GpuTaskOutput } from '../../../core/gpu-message.ts';
import { gpuTaskTimeoutSeconds } from '../../../core/resources.ts';
import { STAGES, nextBackoff, resumeFrom, type Checkpoints, type Stage } from '../../../core/strategies.ts';
import { entryFor, type RetryPolicy } from '../../../core/taxonomy.ts';
import type { StateMachineDefinition } from '../../../statemachines/asl-types.ts';
import type { StateFunctionId } from '../../../statemachines/tasks.ts';
import { allStates, functionIdOf } from './asl.ts';
import { CallLog, lambdaFake, type Faults, type LambdaInput } from './call-log.ts';
import type { Json, TaskHandler } from './run-machine.ts';

export interface JobScenario {
  readonly packId?: string;
  readonly jobId?: string;
  /** Where JobStart says the run begins (earlier stages count as checkpointed). @default 'segmentation' */
  readonly resumeAt?: Stage;
  /** @default 'gpu' */
  readonly inpaint?: 'gpu' | 'hosted';
  /** Segmentation calls the plan fans out. @default 3 */
  readonly segmentationCalls?: number;
  /** Polls answered 'running' before the hosted inpaint succeeds. @default 0 */
  readonly hostedRunningPolls?: number;
  /** Scripted faults, by state name. */
  readonly faults?: Faults;
}

type State = Record<string, unknown>;
type Fake = (s: State, input: LambdaInput) => State;

const SQS_WAIT_FOR_TOKEN = 'arn:aws:states:::sqs:sendMessage.waitForTaskToken';
const FALLBACK_POLICY: RetryPolicy = { IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3, MaxDelaySeconds: 30, JitterStrategy: 'FULL' };

const jobOf = (s: State) => (s['job'] ?? {}) as State;
const errorNameOf = (s: State) => ((s['lastError'] ?? {}) as { Error?: string }).Error ?? 'Unclassified';

export class JobWorld {
  readonly log: CallLog;
  readonly tasks: Readonly<Record<string, TaskHandler>>;
  /** Breaches of the task contracts (payload shape, GPU message schema), as sentences. */
  readonly violations: string[] = [];
  readonly checkpoints: Checkpoints = {};
  readonly executionId: string;
  readonly #scenario: JobScenario;
  readonly #strategyRuns = new Map<string, number>();
  #gpuAttempt = 0;
  #hostedPolls = 0;

  constructor(def: StateMachineDefinition, scenario: JobScenario = {}, executionId = 'arn:aws:states:us-east-1:000000000000:execution:job:test') {
    this.#scenario = scenario;
    this.executionId = executionId;
    this.log = new CallLog(scenario.faults);
    for (const stage of STAGES.slice(0, STAGES.indexOf(scenario.resumeAt ?? 'segmentation'))) {
      this.checkpoints[stage] = `checkpoint/${stage}`;
    }
    const tasks: Record<string, TaskHandler> = {};
    for (const { name, state } of allStates(def)) {
      if (state.Type !== 'Task') continue;
      const fn = functionIdOf(state);
      if (fn !== undefined) tasks[name] = this.#lambda(name, fn);
      else if (state['Resource'] === SQS_WAIT_FOR_TOKEN) tasks[name] = this.#gpu(name);
    }
    this.tasks = tasks;
  }

  /** Calls of a state (optionally of one Map item), failed ones included. */
  calls(state: string, item?: number): number {
    return this.log.count(state, item);
  }

  #lambda(name: string, fn: string): TaskHandler {
    const fake = this.#fakes[fn as StateFunctionId];
    if (fake === undefined) return () => { throw new Error(`the job world has no fake for function ${fn}`); };
    return lambdaFake(this.log, name, (s, input) => {
      if (input.Payload.executionArn !== this.executionId) {
        this.violations.push(`${name} got executionArn ${input.Payload.executionArn}, not ${this.executionId}`);
      }
      if (typeof s['jobId'] !== 'string') this.violations.push(`${name} got a state without jobId`);
      return fake(s, input);
    });
  }

  /** The GPU worker's side of sendMessage.waitForTaskToken: checks the message, answers. */
  #gpu(name: string): TaskHandler {
    return (input: Json) => {
      const body = (input as { MessageBody?: unknown }).MessageBody;
      this.log.enter(name, undefined, input);
      const parsed = gpuTaskMessageSchema.safeParse(body);
      if (!parsed.success) {
        this.violations.push(`${name} sent a message the worker rejects: ${parsed.error.message}`);
        throw new Error('malformed GPU message');
      }
      this.checkpoints.inpaint = `${parsed.data.outputPrefix}inpainted.png`;
      const answer: GpuTaskOutput = { outputs: [this.checkpoints.inpaint], gpuSeconds: 1.5, promptId: `prompt-${parsed.data.attempt}`, workerId: 'worker-1' };
      return answer as unknown as Json;
    };
  }

  /** A recovery strategy's bound: the n-th run past the taxonomy's limit exhausts it. */
  #strategyRun(fn: StateFunctionId, s: State): number {
    const runs = (this.#strategyRuns.get(fn) ?? 0) + 1;
    this.#strategyRuns.set(fn, runs);
    const name = errorNameOf(s);
    const bound = entryFor(name).maxStrategyAttempts;
    if (runs > bound) throw new RecoveryExhaustedError(`${fn}: ${name} recovered ${bound} times already`);
    return runs;
  }

  readonly #fakes: Partial<Record<StateFunctionId, Fake>> = {
    JobStart: (s) => ({
      ...s,
      job: { resumeAt: this.#scenario.resumeAt ?? 'segmentation', inpaint: this.#scenario.inpaint ?? 'gpu', status: 'segmenting' },
    }),
    SegmentationPlan: (s) => ({
      ...s,
      segmentation: { calls: Array.from({ length: this.#scenario.segmentationCalls ?? 3 }, (_, i) => ({ prompt: `garment ${i}` })) },
    }),
    SegmentationCall: (s) => ({ maskKey: `masks/${String(s['index'])}.png` }),
    MaskAggregate: (s) => ({ ...s, mask: { aggregated: 'masks/aggregated.png' } }),
    MaskExpand: (s) => {
      this.checkpoints.segmentation = 'masks/expanded.png';
      return { ...s, mask: { ...(s['mask'] as State), expanded: this.checkpoints.segmentation } };
    },
    InpaintPrepare: (s) => {
      this.#gpuAttempt += 1;
      const prefix = `packs/${String(s['packId'])}/jobs/${String(s['jobId'])}/attempt-${this.#gpuAttempt}/`;
      return {
        ...s,
        gpu: {
          attempt: this.#gpuAttempt,
          workflow: { 1: { class_type: 'LoadImage', inputs: { image: '{{person}}' } } },
          inputs: { person: 'uploads/person.png', garment: 'uploads/garment.png', mask: 'masks/expanded.png' },
          outputPrefix: prefix,
          deadlineSeconds: 600,
          timeoutSeconds: gpuTaskTimeoutSeconds(),
          enqueuedAt: new Date().toISOString(),
          action: this.#gpuAttempt === 1 ? 'inpaint' : 'reduce_params',
        } satisfies GpuTask,
      };
    },
    HostedSubmit: (s) => {
      this.#hostedPolls = 0;
      return { ...s, hosted: { status: 'queued', polls: 0 } };
    },
    HostedPoll: (s) => {
      this.#hostedPolls += 1;
      const done = this.#hostedPolls > (this.#scenario.hostedRunningPolls ?? 0);
      if (done) this.checkpoints.inpaint = 'hosted/inpainted.png';
      return { ...s, hosted: { status: done ? 'succeeded' : 'running', polls: this.#hostedPolls } };
    },
    Compose: (s) => {
      this.checkpoints.compositing = 'composited.png';
      return { ...s, composited: this.checkpoints.compositing };
    },
    QaCheck: (s) => ({ ...s, qa: { passed: true }, job: { ...jobOf(s), status: 'complete' } }),
    ReduceParams: (s) => ({ ...s, reduced: this.#strategyRun('ReduceParams', s) }),
    SwitchModel: (s) => ({ ...s, switched: this.#strategyRun('SwitchModel', s) }),
    ResumeCheckpoint: (s) => {
      this.#strategyRun('ResumeCheckpoint', s);
      return { ...s, job: { ...jobOf(s), resumeAt: resumeFrom(this.checkpoints) } };
    },
    Resegment: (s) => ({ ...s, resegmented: this.#strategyRun('Resegment', s) }),
    PlanFix: (s) => ({ ...s, fixes: this.#strategyRun('PlanFix', s) }),
    BackoffGpu: (s) => {
      const run = this.#strategyRun('BackoffGpu', s);
      const policy = entryFor(errorNameOf(s)).retry ?? FALLBACK_POLICY;
      // SecondsPath takes whole seconds only.
      return { ...s, backoff: { waitSeconds: Math.ceil(nextBackoff(run, policy, () => 0.5)) } };
    },
    JobFail: (s) => ({ ...s, job: { ...jobOf(s), status: 'failed' } }),
  };
}
