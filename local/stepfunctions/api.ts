/**
 * The Step Functions actions, in the AWS JSON 1.0 protocol's shapes: lowerCamel fields,
 * dates as epoch seconds.
 */
import { UnknownOperation, ValidationException } from './api-errors.ts';
import type { Engine } from './engine.ts';
import type { Execution } from './execution.ts';
import type { ExecutionStatus, JsonObject } from './types.ts';

const seconds = (ms: number): number => ms / 1000;

const STATUSES = new Set<string>(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

function optString(body: JsonObject, field: string, maxLength = Number.POSITIVE_INFINITY): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ValidationException(`1 validation error detected: '${field}' must be a string`);
  if (v.length > maxLength) throw new ValidationException(`1 validation error detected: '${field}' must have length less than or equal to ${maxLength}`);
  return v;
}

function optNumber(body: JsonObject, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1000) throw new ValidationException(`1 validation error detected: '${field}' must be an integer from 0 to 1000`);
  return v;
}

function listItem(e: Execution): JsonObject {
  return {
    executionArn: e.arn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: seconds(e.startDate),
    ...(e.stopDate !== undefined ? { stopDate: seconds(e.stopDate) } : {}),
  };
}

function describeExecution(e: Execution): JsonObject {
  return {
    ...listItem(e),
    input: e.input,
    inputDetails: { included: true },
    ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
    redriveCount: 0,
    redriveStatus: 'NOT_REDRIVABLE',
  };
}

type Action = (engine: Engine, body: JsonObject) => JsonObject;

const ACTIONS: Record<string, Action> = {
  StartExecution: (engine, b) => {
    const e = engine.startExecution({ stateMachineArn: b['stateMachineArn'], name: b['name'], input: b['input'] });
    return { executionArn: e.arn, startDate: seconds(e.startDate) };
  },
  DescribeExecution: (engine, b) => describeExecution(engine.execution(b['executionArn'])),
  StopExecution: (engine, b) => {
    const e = engine.stopExecution(b['executionArn'], optString(b, 'error', 256), optString(b, 'cause', 32_768));
    return { stopDate: seconds(e.stopDate ?? Date.now()) };
  },
  ListExecutions: (engine, b) => {
    const status = optString(b, 'statusFilter');
    if (status !== undefined && !STATUSES.has(status)) throw new ValidationException(`1 validation error detected: 'statusFilter' must be one of ${[...STATUSES].join(', ')}`);
    const page = engine.listExecutions({
      stateMachineArn: optString(b, 'stateMachineArn') ?? '',
      statusFilter: status as ExecutionStatus | undefined,
      maxResults: optNumber(b, 'maxResults'),
      nextToken: optString(b, 'nextToken'),
    });
    return { executions: page.executions.map(listItem), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) };
  },
  GetExecutionHistory: (engine, b) => {
    const nextToken = optString(b, 'nextToken');
    const maxResults = optNumber(b, 'maxResults');
    const page = engine.execution(b['executionArn']).history.page({
      ...(maxResults !== undefined ? { maxResults } : {}),
      ...(nextToken !== undefined ? { nextToken } : {}),
      reverseOrder: b['reverseOrder'] === true,
      includeExecutionData: b['includeExecutionData'] !== false,
    });
    return { events: page.events, ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) };
  },
  SendTaskSuccess: (engine, b) => {
    engine.sendTaskSuccess(b['taskToken'], b['output']);
    return {};
  },
  SendTaskFailure: (engine, b) => {
    engine.sendTaskFailure(b['taskToken'], optString(b, 'error', 256), optString(b, 'cause', 32_768));
    return {};
  },
  SendTaskHeartbeat: (engine, b) => {
    engine.sendTaskHeartbeat(b['taskToken']);
    return {};
  },
  CreateStateMachine: (engine, b) => {
    const definition = optString(b, 'definition');
    if (definition === undefined) throw new ValidationException("1 validation error detected: 'definition' is required");
    const roleArn = optString(b, 'roleArn');
    const m = engine.createStateMachine({ name: optString(b, 'name') ?? '', definition, ...(roleArn !== undefined ? { roleArn } : {}) });
    return { stateMachineArn: m.arn, creationDate: seconds(m.creationDate) };
  },
  DescribeStateMachine: (engine, b) => {
    const m = engine.stateMachine(b['stateMachineArn']);
    return {
      stateMachineArn: m.arn,
      name: m.name,
      status: 'ACTIVE',
      definition: m.compiled.definition,
      roleArn: m.roleArn,
      type: 'STANDARD',
      creationDate: seconds(m.creationDate),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  },
  ListStateMachines: (engine) => ({
    stateMachines: engine.stateMachines().map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD', creationDate: seconds(m.creationDate) })),
  }),
};

export function runAction(engine: Engine, action: string, body: JsonObject): JsonObject {
  const handler = ACTIONS[action];
  if (!handler) throw new UnknownOperation(`The local Step Functions service does not implement ${action}`);
  return handler(engine, body);
}
