/**
 * The middy stack of every state-machine function. A handler receives
 * `{ state, executionArn }` from the machine (see statemachines/tasks.ts), parses the
 * state with its schema, and returns a patch; the stack merges the patch into the state,
 * turns every thrown failure into a taxonomy-named error (so Retry/Catch match), keeps
 * the recovery ledger, and honours the emergency stop.
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
import { access } from './access.ts';
import { CONTROL_ACCESS, isEmergencyStopped } from './control.ts';
import { JOB_STORE_ACCESS, getJob } from './job-store.ts';
import { LEDGER_ACCESS, curedBy, recordFailure, resolve } from './ledger.ts';
import { logger, metrics } from './logging.ts';
import { TAUGHT_CLASSIFIER_ACCESS, currentClassifier } from './taught-classifier.ts';

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

export function stateHandler<S extends z.ZodType>(
  opts: StateHandlerOptions<S>,
  body: (ctx: StateContext<z.infer<S>>) => Promise<Record<string, unknown>>,
): StateHandler {
  const base = async (event: unknown, lambda: Context): Promise<Record<string, unknown>> => {
    const envelope = envelopeSchema.safeParse(event);
    if (!envelope.success) throw new DataCorruptionError(`${opts.fn}: the machine's state is not an object with state and executionArn`);
    const parsed = opts.schema.safeParse(envelope.data.state);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(state)'}: ${i.message}`).join('; ');
      throw new DataCorruptionError(`${opts.fn}: unexpected state: ${issues}`);
    }
    const state = parsed.data as z.infer<S>;
    const jobId = typeof envelope.data.state['jobId'] === 'string' ? envelope.data.state['jobId'] : undefined;
    let job: JobRecord | undefined;
    try {
      if (opts.honourStop !== false && (await isEmergencyStopped())) {
        throw new StoppedError('The pipeline is emergency-stopped; the job keeps its state until resume.');
      }
      job = jobId === undefined ? undefined : await getJob(jobId);
      logger.appendKeys({ jobId, fn: opts.fn });
      const patch = await body({ state, executionArn: envelope.data.executionArn, job, lambda });
      const output: Record<string, unknown> = { ...envelope.data.state, ...patch };
      if (!opts.keepLastError) delete output['lastError'];
      if (job) await resolve(job, curedBy(job, opts.fn, opts.stage), 'recovered');
      metrics.addMetric('StageSucceeded', MetricUnit.Count, 1);
      return output;
    } catch (e) {
      const err = toPipelineError(e, await currentClassifier(), opts.stage);
      const failure = metrics.singleMetric();
      failure.addDimensions({ function: opts.fn, error: err.name });
      failure.addMetric('StageFailures', MetricUnit.Count, 1);
      metrics.addMetric('StageFailed', MetricUnit.Count, 1);
      if (job && opts.recordFailures !== false && err.name !== 'Control.Stopped') {
        await recordFailure(job, { error: err.name, cause: err.message, fn: opts.fn, stage: opts.stage });
      }
      logger.warn('stage failed', { error: err.name, cause: err.message });
      throw err;
    }
  };
  return middy(base)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as StateHandler;
}
