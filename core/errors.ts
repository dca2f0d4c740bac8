/**
 * Error classes of the taxonomy. Each sets its `name` to the literal taxonomy name,
 * because Step Functions matches Retry/Catch on the thrown error's name and minifiers
 * rename constructors.
 */
import { entryFor, isErrorName, type ErrorName, type TaxonomyEntry } from './taxonomy.ts';

export interface PipelineErrorContext {
  readonly jobId?: string;
  readonly packId?: string;
  readonly attempt?: number;
  /** What in the raw failure led to this name (pattern or rule id). */
  readonly matched?: string;
}

export class PipelineError extends Error {
  override readonly name: ErrorName;
  readonly context: PipelineErrorContext;

  constructor(name: ErrorName, message: string, options: ErrorOptions & { context?: PipelineErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.context = options.context ?? {};
  }

  get entry(): TaxonomyEntry {
    return entryFor(this.name);
  }

  get recoverable(): boolean {
    return this.entry.recoverable;
  }
}

type Ctor = new (message: string, options?: ErrorOptions & { context?: PipelineErrorContext }) => PipelineError;

function named(name: ErrorName): Ctor {
  return class extends PipelineError {
    constructor(message: string, options?: ErrorOptions & { context?: PipelineErrorContext }) {
      super(name, message, options);
    }
  };
}

export const TransientNetworkError = named('Transient.Network');
export const TransientServiceUnavailableError = named('Transient.ServiceUnavailable');
export const TransientRateLimitedError = named('Transient.RateLimited');
export const TransientThrottledError = named('Transient.Throttled');
export const CircuitOpenError = named('Transient.CircuitOpen');
export const GpuOutOfMemoryError = named('Gpu.OutOfMemory');
export const GpuModelMissingError = named('Gpu.ModelMissing');
export const GpuTimeoutError = named('Gpu.Timeout');
export const MalformedResponseError = named('Provider.MalformedResponse');
export const DegenerateMaskError = named('Segmentation.DegenerateMask');
export const CompositingFailedError = named('Compositing.Failed');
export const QaRejectedError = named('Qa.Rejected');
export const DiskFullError = named('Fatal.DiskFull');
export const WorkflowInvalidError = named('Fatal.WorkflowInvalid');
export const InvalidInputError = named('Fatal.InvalidInput');
export const DataCorruptionError = named('Fatal.DataCorruption');
export const RecoveryExhaustedError = named('Recovery.Exhausted');
export const StoppedError = named('Control.Stopped');
export const UnclassifiedError = named('Unclassified');

/** A pipeline error for a name known only at run time (from the classifier or an ASL Catch). */
export function pipelineError(name: string, message: string, options: ErrorOptions & { context?: PipelineErrorContext } = {}): PipelineError {
  return new PipelineError(isErrorName(name) ? name : 'Unclassified', message, options);
}

export function isPipelineError(e: unknown): e is PipelineError {
  return e instanceof PipelineError;
}
