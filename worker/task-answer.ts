/**
 * Answers to the Step Functions task token. A token that Step Functions no longer
 * accepts (TaskTimedOut, InvalidToken, TaskDoesNotExist) raises TokenGoneError: the task
 * is closed, so the work behind it is useless and its message can be dropped.
 */
import {
  SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient,
} from '@aws-sdk/client-sfn';
import { TASK_FAILURE_LIMITS, gpuTaskOutputSchema, type GpuTaskOutput } from '../core/gpu-message.ts';
import { cutText } from './failure.ts';
import { access, grant } from '../adapters/access.ts';

/** Task tokens name no resource: Step Functions authorizes SendTask* on `*` only. */
export const TASK_ANSWER_ACCESS = access(grant('*', 'states', 'SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'));

export class TokenGoneError extends Error {
  override readonly name = 'TokenGoneError';
  /** TaskTimedOut, InvalidToken or TaskDoesNotExist. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(`task token no longer accepted (${code}): ${message}`, options);
    this.code = code;
  }
}

const GONE = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

export function isTokenGone(e: unknown): boolean {
  return e instanceof TokenGoneError;
}

export class TaskAnswerer {
  readonly #sfn: SFNClient;
  readonly #timeoutMs: number;

  constructor(sfn: SFNClient, timeoutMs: number) {
    this.#sfn = sfn;
    this.#timeoutMs = timeoutMs;
  }

  async #send(call: (sfn: SFNClient, options: { abortSignal: AbortSignal }) => Promise<unknown>): Promise<void> {
    try {
      await call(this.#sfn, { abortSignal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      const name = (e as { name?: unknown }).name;
      if (typeof name === 'string' && GONE.has(name)) throw new TokenGoneError(name, (e as Error).message, { cause: e });
      throw e;
    }
  }

  heartbeat(taskToken: string): Promise<void> {
    return this.#send((sfn, o) => sfn.send(new SendTaskHeartbeatCommand({ taskToken }), o));
  }

  success(taskToken: string, output: GpuTaskOutput): Promise<void> {
    const body = JSON.stringify(gpuTaskOutputSchema.parse(output));
    return this.#send((sfn, o) => sfn.send(new SendTaskSuccessCommand({ taskToken, output: body }), o));
  }

  failure(taskToken: string, error: string, cause: string): Promise<void> {
    return this.#send((sfn, o) => sfn.send(new SendTaskFailureCommand({
      taskToken,
      error: cutText(error, TASK_FAILURE_LIMITS.error),
      cause: cutText(cause, TASK_FAILURE_LIMITS.cause),
    }), o));
  }
}
