/**
 * The middy stack of every state-machine function. A handler receives
 * `{ state, executionArn }` from the machine (see statemachines/tasks.ts), parses the
 * state with its schema, and returns a patch; the stack merges the patch into the state.
 * Small middlewares do the rest, each read once per invocation: the envelope, the
 * emergency stop, the job, the recovery ledger, stage metrics, and the taxonomy name of
 * every thrown failure (so Retry/Catch match).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { classify, isTaught, type Classifier } from '../../core/classifier.ts';
import { DataCorruptionError, PipelineError, StoppedError, pipelineError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { Stage } from '../../core/strategies.ts';
import type { StateFunctionId } from '../../statemachines/tasks.ts';
import { access } from '../../adapters/access.ts';
import { CONTROL_ACCESS, isEmergencyStopped } from '../../adapters/control.ts';
import { JOB_STORE_ACCESS, getJob } from '../../adapters/job-store.ts';
import { LEDGER_ACCESS, curedBy, recordFailure, resolve } from '../../adapters/ledger.ts';
import { logger, metrics } from '../../adapters/logging.ts';
import { TAUGHT_CLASSIFIER_ACCESS, currentClassifier } from '../../adapters/taught-classifier.ts';

/**
 * What the stack itself calls: the stop flag, and for a job's state (it has a jobId) the
 * job and its recovery ledger.
 */
export const STATE_HANDLER_ACCESS = {
  job: access(CONTROL_ACCESS, JOB_STORE_ACCESS.readJob, LEDGER_ACCESS, TAUGHT_CLASSIFIER_ACCESS),
  pack: access(CONTROL_ACCESS, TAUGHT_CLASSIFIER_ACCESS),
} as const;

const envelopeSchema = z.object({
  state: z.record(z.string(), z.unknown()),
  executionArn: z.string().min(1),
});

export interface StateContext<S> {
  readonly state: S;
  readonly executionArn: string;
  /** The job as stored when the invocation began (when the state names a jobId). */
  readonly job: JobRecord | undefined;
  readonly lambda: Context;
}

export interface StateHandlerOptions<S extends z.ZodType> {
  readonly fn: StateFunctionId;
  /** The stage this function belongs to; null for recovery and bookkeeping functions. */
  readonly stage: Stage | null;
  readonly schema: S;
  /** Keep `lastError` in the output (the failure recorders need it for the Fail state). */
  readonly keepLastError?: boolean;
  /** Refuse to run while emergency-stopped. @default true */
  readonly honourStop?: boolean;
  /** Record a thrown failure in the job's ledger. @default true */
  readonly recordFailures?: boolean;
}

export type StateHandler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

/**
 * Any failure as a taxonomy-named error: named ones pass, others are classified. An
 * `Unclassified` one is offered to the operator-taught patterns only (the built-in rules
 * already had their say where it was named).
 */
export function toPipelineError(e: unknown, classifier: Pick<Classifier, 'classify'> = { classify }, stage: Stage | null = null): PipelineError {
  if (e instanceof PipelineError && e.name !== 'Unclassified') return e;
  const verdict = classifier.classify(e, { stage });
  if (e instanceof PipelineError && !isTaught(verdict)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return pipelineError(verdict.name, message, { cause: e, context: verdict.matched === null ? {} : { matched: verdict.matched } });
}

/** The machine's event once the envelope middleware has read it; the later middlewares and the body share it. */
interface StateEvent {
  /** The state as the machine sent it (the output merges the patch into this). */
  readonly raw: Record<string, unknown>;
  readonly state: unknown;
  readonly executionArn: string;
  readonly jobId: string | undefined;
  /** Read once per invocation by loadJob. */
  job: JobRecord | undefined;
}

type StateMiddleware = middy.MiddlewareObj<StateEvent, Record<string, unknown>, Error, Context>;
type StateRequest = middy.Request<StateEvent, Record<string, unknown>, Error, Context>;

/** Parses `{ state, executionArn }` and the state with the function's schema; a misfit is Fatal.DataCorruption. */
function readEnvelope(fn: StateFunctionId, schema: z.ZodType): StateMiddleware {
  return {
    before: (request) => {
      const envelope = envelopeSchema.safeParse(request.event);
      if (!envelope.success) throw new DataCorruptionError(`${fn}: the machine's state is not an object with state and executionArn`);
      const parsed = schema.safeParse(envelope.data.state);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(state)'}: ${i.message}`).join('; ');
        throw new DataCorruptionError(`${fn}: unexpected state: ${issues}`);
      }
      const jobId = typeof envelope.data.state['jobId'] === 'string' ? envelope.data.state['jobId'] : undefined;
      request.event = { raw: envelope.data.state, state: parsed.data, executionArn: envelope.data.executionArn, jobId, job: undefined };
      started.add(request);
    },
  };
}

/** Requests whose envelope was read: only those count as a stage run in the metrics. */
const started = new WeakSet<StateRequest>();

/** Refuses to run while emergency-stopped (Control.Stopped: the job keeps its state until resume). */
function honourEmergencyStop(): StateMiddleware {
  return {
    before: async () => {
      if (await isEmergencyStopped()) throw new StoppedError('The pipeline is emergency-stopped; the job keeps its state until resume.');
    },
  };
}

/** Reads the job the state names, once, with strong consistency. */
function loadJob(fn: StateFunctionId): StateMiddleware {
  return {
    before: async (request) => {
      const { jobId } = request.event;
      if (jobId !== undefined) request.event.job = await getJob(jobId);
      logger.appendKeys({ jobId, fn });
    },
  };
}

/** The recovery ledger: a success resolves the entries it cures; a failure (but a stop) is recorded. */
function recoveryLedger(fn: StateFunctionId, stage: Stage | null, recordFailures: boolean): StateMiddleware {
  return {
    after: async (request) => {
      const { job } = request.event;
      if (job) await resolve(job, curedBy(job, fn, stage), 'recovered');
    },
    onError: async (request) => {
      // A state that could not be read names no job.
      const job = started.has(request) ? request.event.job : undefined;
      const err = request.error;
      if (job && recordFailures && err && err.name !== 'Control.Stopped') {
        await recordFailure(job, { error: err.name, cause: err.message, fn, stage });
      }
    },
  };
}

/** Stage metrics and the failure log line. */
function stageMetrics(fn: StateFunctionId): StateMiddleware {
  return {
    after: () => {
      metrics.addMetric('StageSucceeded', MetricUnit.Count, 1);
    },
    onError: (request) => {
      const err = request.error;
      if (!err || !started.has(request)) return;
      const failure = metrics.singleMetric();
      failure.addDimensions({ function: fn, error: err.name });
      failure.addMetric('StageFailures', MetricUnit.Count, 1);
      metrics.addMetric('StageFailed', MetricUnit.Count, 1);
      logger.warn('stage failed', { error: err.name, cause: err.message });
    },
  };
}

/** Every failure leaves as a taxonomy-named error, so the machine's Retry/Catch match it. */
function pipelineErrors(stage: Stage | null): StateMiddleware {
  return {
    // Operator-taught patterns first (read at most a TTL ago), then the built-in rules.
    onError: async (request) => {
      if (request.error) request.error = toPipelineError(request.error, await currentClassifier(), stage);
    },
  };
}

/**
 * A state function: the body gets the parsed state and the job, and returns a patch the
 * stack merges into the state. Middlewares in order: Lambda context and metrics, stage
 * metrics, the envelope, the stop flag, the job, the ledger, and (first on the way out of
 * a failure) the error's taxonomy name.
 */
export function stateHandler<S extends z.ZodType>(
  opts: StateHandlerOptions<S>,
  body: (ctx: StateContext<z.infer<S>>) => Promise<Record<string, unknown>>,
): StateHandler {
  const base = async (event: StateEvent, lambda: Context): Promise<Record<string, unknown>> => {
    const patch = await body({ state: event.state as z.infer<S>, executionArn: event.executionArn, job: event.job, lambda });
    const output: Record<string, unknown> = { ...event.raw, ...patch };
    if (!opts.keepLastError) delete output['lastError'];
    return output;
  };
  const stack = middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(stageMetrics(opts.fn))
    .use(readEnvelope(opts.fn, opts.schema));
  if (opts.honourStop !== false) stack.use(honourEmergencyStop());
  stack
    .use(loadJob(opts.fn))
    .use(recoveryLedger(opts.fn, opts.stage, opts.recordFailures !== false))
    .use(pipelineErrors(opts.stage));
  return stack as unknown as StateHandler;
}
