/**
 * The error taxonomy: every failure the pipeline can meet is one named entry here.
 *
 * This table is the single source of truth. The state machines' Retry and Catch
 * blocks are generated from it (statemachines/), the classifier returns its names,
 * handlers and the GPU worker throw errors whose `name` is one of its keys, and the
 * `vto classify` command prints its verdicts.
 */

/** Recovery strategies. Each is a state of its own in the job machine, or an ASL Retry. */
export const STRATEGIES = [
  'RETRY_BACKOFF',
  'REDUCE_PARAMS',
  'SWITCH_MODEL',
  'RESUME_CHECKPOINT',
  'RESEGMENT',
  'FIX_AND_RETRY',
  'ABORT',
  'NEEDS_INTERVENTION',
  'STOP',
] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const FAMILIES = [
  'Transient',
  'Lambda',
  'Sandbox',
  'Gpu',
  'States',
  'Provider',
  'Segmentation',
  'Compositing',
  'Qa',
  'Fatal',
  'Recovery',
  'Control',
  'Unclassified',
] as const;
export type Family = (typeof FAMILIES)[number];

/**
 * An ASL retrier's settings, named as in ASL.
 * Intervals are real seconds; the offline runtime scales them by its time factor.
 */
export interface RetryPolicy {
  /** Seconds before the first retry. @default 2 */
  readonly IntervalSeconds: number;
  /** Multiplier applied to the interval on each retry. @default 2 */
  readonly BackoffRate: number;
  /** Retries after the first failure (not counting it). @default 3 */
  readonly MaxAttempts: number;
  /** Cap on any one interval. @default 30 */
  readonly MaxDelaySeconds: number;
  /** FULL picks a random delay in [0, interval]; spreads synchronized retries. @default 'FULL' */
  readonly JitterStrategy: 'FULL' | 'NONE';
}

/**
 * What a failure says about the dependency that answered (a provider, a ComfyUI host), for
 * its circuit breaker: `failure` indicts it (counts towards opening), `success` proves it up
 * (it answered properly, e.g. that the input is bad), `neither` says nothing of it (an open
 * breaker's own refusal; AWS throttling our account).
 */
export type BreakerVerdict = 'failure' | 'success' | 'neither';

export interface TaxonomyEntry {
  readonly name: string;
  readonly family: Family;
  readonly recoverable: boolean;
  readonly strategy: Strategy;
  /** How the failure counts against the breaker of the dependency that answered. */
  readonly breaker: BreakerVerdict;
  /** Set when the strategy is an ASL Retry on the failing state. */
  readonly retry: RetryPolicy | null;
  /** Most times the strategy may run for one job (for RETRY_BACKOFF: MaxAttempts). */
  readonly maxStrategyAttempts: number;
  readonly description: string;
}

/** How many times a strategy runs for one job unless its entry sets its own bound: enough for a passing cause to pass, few enough that a lasting one fails soon. */
export const DEFAULT_STRATEGY_ATTEMPTS = 3;

/**
 * Recoveries one job may spend across all strategies before it fails with its history;
 * no single strategy's bound exceeds it (Transient.CircuitOpen's 10 waits are the largest).
 */
export const JOB_RECOVERY_BUDGET = 12;

const backoff = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  IntervalSeconds: 2,
  BackoffRate: 2,
  MaxAttempts: 5,
  MaxDelaySeconds: 30,
  JitterStrategy: 'FULL',
  ...over,
});

type EntryInput = Omit<TaxonomyEntry, 'maxStrategyAttempts' | 'retry' | 'breaker'> & {
  readonly retry?: RetryPolicy;
  readonly maxStrategyAttempts?: number;
  /** @default 'success': the dependency answered. */
  readonly breaker?: BreakerVerdict;
};

function entry(e: EntryInput): TaxonomyEntry {
  const retry = e.retry ?? null;
  return {
    ...e,
    breaker: e.breaker ?? 'success',
    retry,
    maxStrategyAttempts: e.maxStrategyAttempts ?? retry?.MaxAttempts ?? (e.recoverable ? DEFAULT_STRATEGY_ATTEMPTS : 0),
  };
}

const TABLE = [
  // Transport and service hiccups: retried in place with exponential backoff and full jitter.
  entry({ name: 'Transient.Network', family: 'Transient', recoverable: true, strategy: 'RETRY_BACKOFF', retry: backoff(), breaker: 'failure',
    description: 'Connection reset, refused, timed out or DNS failure (ECONNRESET, ETIMEDOUT, [Errno 110]).' }),
  entry({ name: 'Transient.ServiceUnavailable', family: 'Transient', recoverable: true, strategy: 'RETRY_BACKOFF', retry: backoff(), breaker: 'failure',
    description: 'HTTP 500/502/503/504, or an HTML error page where JSON was expected.' }),
  // Rate limits wait longer: the provider asked us to slow down.
  entry({ name: 'Transient.RateLimited', family: 'Transient', recoverable: true, strategy: 'RETRY_BACKOFF', breaker: 'failure',
    retry: backoff({ IntervalSeconds: 5, MaxDelaySeconds: 60 }),
    description: 'HTTP 429, "Too Many Requests", S3 "503 Slow Down".' }),
  // AWS throttled our account's call: it says nothing of the provider.
  entry({ name: 'Transient.Throttled', family: 'Transient', recoverable: true, strategy: 'RETRY_BACKOFF', retry: backoff(), breaker: 'neither',
    description: 'AWS throttling: ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded.' }),
  // An open breaker half-opens after 300 s and then admits only 3 trial calls, so waiters
  // must both outlast the window and arrive spread out: with full jitter, 10 attempts wait
  // 525 s on average (σ ≈ 100 s), so about 1 % of waiters give up before it half-opens.
  entry({ name: 'Transient.CircuitOpen', family: 'Transient', recoverable: true, strategy: 'RETRY_BACKOFF', breaker: 'neither',
    retry: backoff({ IntervalSeconds: 30, MaxAttempts: 10, MaxDelaySeconds: 120 }),
    description: 'The circuit breaker of a provider is open; calls are refused until it half-opens.' }),

  // Lambda service faults (AWS's recommended retrier for Lambda tasks: 2 s, backoff 2, 6 attempts).
  entry({ name: 'Lambda.ServiceException', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 6 }), description: 'Lambda service 500.' }),
  entry({ name: 'Lambda.AWSLambdaException', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 6 }), description: 'Lambda service error.' }),
  entry({ name: 'Lambda.SdkClientException', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 6 }), description: 'Step Functions could not reach Lambda.' }),
  entry({ name: 'Lambda.TooManyRequestsException', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 6 }), description: 'Lambda concurrency throttle.' }),
  entry({ name: 'Lambda.ClientExecutionTimeoutException', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 6 }), description: 'Step Functions timed out calling the Lambda service.' }),
  entry({ name: 'Lambda.Unknown', family: 'Lambda', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 2 }), description: 'The function ended without an error type: out of memory, or a timeout on older runtimes.' }),
  // The function ran past its configured timeout and Lambda ended it ("Task timed out after
  // N seconds"). Transient at first sight (a cold start, a slow dependency), but the same
  // input usually needs the same time: two retries, then the job fails with the name.
  entry({ name: 'Sandbox.Timedout', family: 'Sandbox', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ MaxAttempts: 2 }), description: 'The function ran past its configured timeout; Lambda ended it (Task timed out after N seconds).' }),

  // GPU failures: cured by changing what we ask of the GPU, not by asking again.
  entry({ name: 'Gpu.OutOfMemory', family: 'Gpu', recoverable: true, strategy: 'REDUCE_PARAMS',
    description: 'VRAM exhausted (CUDA/HIP/MPS out of memory, "Allocation on device").' }),
  entry({ name: 'Gpu.ModelMissing', family: 'Gpu', recoverable: true, strategy: 'SWITCH_MODEL',
    description: 'Checkpoint, LoRA or VAE not installed, or a corrupt model file.' }),
  entry({ name: 'Gpu.Timeout', family: 'Gpu', recoverable: true, strategy: 'RESUME_CHECKPOINT', breaker: 'failure',
    description: 'The generation made no progress before the worker deadline.' }),
  entry({ name: 'States.HeartbeatTimeout', family: 'States', recoverable: true, strategy: 'RESUME_CHECKPOINT',
    description: 'No heartbeat from the GPU worker within HeartbeatSeconds (worker died).' }),
  entry({ name: 'States.Timeout', family: 'States', recoverable: true, strategy: 'RESUME_CHECKPOINT',
    description: 'The task ran past its TimeoutSeconds.' }),

  entry({ name: 'Provider.MalformedResponse', family: 'Provider', recoverable: true, strategy: 'RETRY_BACKOFF', breaker: 'failure',
    retry: backoff({ IntervalSeconds: 1, MaxAttempts: 3, MaxDelaySeconds: 10 }),
    description: 'A provider answered with unparsable or schema-invalid data.' }),
  entry({ name: 'Segmentation.DegenerateMask', family: 'Segmentation', recoverable: true, strategy: 'RESEGMENT',
    maxStrategyAttempts: 2, description: 'Empty, full-frame or fragmented mask, or quorum not reached.' }),
  entry({ name: 'Compositing.Failed', family: 'Compositing', recoverable: true, strategy: 'RETRY_BACKOFF',
    retry: backoff({ IntervalSeconds: 1, MaxAttempts: 2, MaxDelaySeconds: 10 }),
    description: 'Decode or size mismatch while compositing.' }),
  entry({ name: 'Qa.Rejected', family: 'Qa', recoverable: true, strategy: 'FIX_AND_RETRY', maxStrategyAttempts: 2,
    description: 'QA score below threshold; the fixer derives new parameters.' }),

  // Never retried: the same input would fail the same way.
  entry({ name: 'Fatal.DiskFull', family: 'Fatal', recoverable: false, strategy: 'ABORT',
    description: 'No space left on device ([Errno 28]).' }),
  entry({ name: 'Fatal.WorkflowInvalid', family: 'Fatal', recoverable: false, strategy: 'ABORT',
    description: 'The node graph is invalid (missing node type, bad links, bad values).' }),
  entry({ name: 'Fatal.InvalidInput', family: 'Fatal', recoverable: false, strategy: 'ABORT',
    description: 'An input image is unreadable or invalid.' }),
  entry({ name: 'Fatal.DataCorruption', family: 'Fatal', recoverable: false, strategy: 'ABORT',
    description: 'Stored state or an object is corrupt (checksum mismatch, truncated file).' }),
  entry({ name: 'Recovery.Exhausted', family: 'Recovery', recoverable: false, strategy: 'ABORT',
    description: 'A strategy reached its attempt bound or the job spent its recovery budget.' }),
  entry({ name: 'Control.Stopped', family: 'Control', recoverable: false, strategy: 'STOP',
    description: 'Emergency stop is on; the job keeps its state and checkpoints until resume.' }),
  entry({ name: 'Unclassified', family: 'Unclassified', recoverable: false, strategy: 'NEEDS_INTERVENTION',
    description: 'Nothing in the taxonomy matched; the job needs a person, never a blind retry.' }),
] as const satisfies readonly TaxonomyEntry[];

export type ErrorName = (typeof TABLE)[number]['name'];

export const TAXONOMY: ReadonlyMap<ErrorName, TaxonomyEntry> = new Map(TABLE.map((e) => [e.name, e]));

export const ERROR_NAMES: readonly ErrorName[] = TABLE.map((e) => e.name);

export function isErrorName(name: unknown): name is ErrorName {
  return typeof name === 'string' && TAXONOMY.has(name as ErrorName);
}

/** The entry for a name; unknown names read as Unclassified (never recoverable). */
export function entryFor(name: string): TaxonomyEntry {
  return TAXONOMY.get(name as ErrorName) ?? (TAXONOMY.get('Unclassified') as TaxonomyEntry);
}

/** How a failure named `name` counts against its dependency's breaker; a name outside the taxonomy reads as Unclassified. */
export const breakerVerdict = (name: string): BreakerVerdict => entryFor(name).breaker;

export function namesWithStrategy(strategy: Strategy): ErrorName[] {
  return ERROR_NAMES.filter((n) => entryFor(n).strategy === strategy);
}
