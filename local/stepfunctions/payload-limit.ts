/**
 * Step Functions' payload quota: 256 KiB of UTF-8 for an execution's input, a state's
 * input and output, and a task's result. Past it AWS fails the state with
 * States.DataLimitExceeded, a terminal error that States.ALL does not catch.
 */
import type { Json } from './types.ts';

export const MAX_PAYLOAD_BYTES = 262_144;

export const payloadBytes = (value: Json | undefined): number => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

/** Terminal, like States.Runtime: no Retry or Catch applies, the execution fails. */
export class DataLimitExceededError extends Error {
  override readonly name = 'States.DataLimitExceeded';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

type Payload = 'input' | 'output' | 'result';

/** The error for a payload over the quota, or undefined when it fits. */
export function overLimit(state: string, what: Payload, value: Json | undefined): DataLimitExceededError | undefined {
  const bytes = payloadBytes(value);
  if (bytes <= MAX_PAYLOAD_BYTES) return undefined;
  const verb = what === 'result' ? 'returned a result' : what === 'input' ? 'received an input' : 'produced an output';
  return new DataLimitExceededError(`The state/task '${state}' ${verb} with a size exceeding the maximum number of bytes service limit (${bytes} > ${MAX_PAYLOAD_BYTES}).`);
}
