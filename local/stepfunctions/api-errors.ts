/**
 * The Step Functions API's own errors. The HTTP layer sends them as
 * `{"__type":"com.amazonaws.states#<code>","message":...}` with status 400, from which
 * the SDK builds the exception class of the same name.
 */
export abstract class SfnApiError extends Error {
  abstract readonly code: string;
  readonly status: number = 400;
}

export class ExecutionAlreadyExists extends SfnApiError {
  override readonly name = 'ExecutionAlreadyExists';
  readonly code = 'ExecutionAlreadyExists';
}
export class ExecutionDoesNotExist extends SfnApiError {
  override readonly name = 'ExecutionDoesNotExist';
  readonly code = 'ExecutionDoesNotExist';
}
export class StateMachineDoesNotExist extends SfnApiError {
  override readonly name = 'StateMachineDoesNotExist';
  readonly code = 'StateMachineDoesNotExist';
}
export class StateMachineAlreadyExists extends SfnApiError {
  override readonly name = 'StateMachineAlreadyExists';
  readonly code = 'StateMachineAlreadyExists';
}
export class InvalidDefinition extends SfnApiError {
  override readonly name = 'InvalidDefinition';
  readonly code = 'InvalidDefinition';
}
export class InvalidArn extends SfnApiError {
  override readonly name = 'InvalidArn';
  readonly code = 'InvalidArn';
}
export class InvalidName extends SfnApiError {
  override readonly name = 'InvalidName';
  readonly code = 'InvalidName';
}
export class InvalidExecutionInput extends SfnApiError {
  override readonly name = 'InvalidExecutionInput';
  readonly code = 'InvalidExecutionInput';
}
export class InvalidOutput extends SfnApiError {
  override readonly name = 'InvalidOutput';
  readonly code = 'InvalidOutput';
}
export class InvalidToken extends SfnApiError {
  override readonly name = 'InvalidToken';
  readonly code = 'InvalidToken';
}
export class TaskTimedOut extends SfnApiError {
  override readonly name = 'TaskTimedOut';
  readonly code = 'TaskTimedOut';
}
export class ValidationException extends SfnApiError {
  override readonly name = 'ValidationException';
  readonly code = 'ValidationException';
}
export class UnknownOperation extends SfnApiError {
  override readonly name = 'UnknownOperationException';
  readonly code = 'UnknownOperationException';
}
export class SerializationException extends SfnApiError {
  override readonly name = 'SerializationException';
  readonly code = 'SerializationException';
}
export class ServiceUnavailable extends SfnApiError {
  override readonly name = 'ServiceUnavailable';
  readonly code = 'ServiceUnavailable';
  override readonly status = 503;
}
