/**
 * Errors as the fakes throw them. The runner matches Retry and Catch on `error.name`, so
 * the name must be the literal ASL name: taxonomy names come from core/errors.ts, service
 * names (States.TaskFailed, StepFunctions.*) are set by hand.
 */
import { pipelineError } from '../../../core/errors.ts';
import { isErrorName } from '../../../core/taxonomy.ts';

export function namedError(name: string, message = `fake failure: ${name}`): Error {
  return isErrorName(name) ? pipelineError(name, message) : Object.assign(new Error(message), { name });
}
