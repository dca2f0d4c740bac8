/**
 * An execution's history for the console's offline execution page: DescribeExecution and
 * GetExecutionHistory from the local Step Functions endpoint, signed here, read-only (no
 * other action is ever sent), bounded in time and in events. Deployed, the console links
 * to the AWS Step Functions console instead.
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { ConsoleError } from './errors.ts';
import type { ConsoleTarget } from './target.ts';

export const EXECUTION_ARN_PATTERN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_.-]{1,80}:[A-Za-z0-9_.-]{1,80}$/;

/** Events read at most (a job execution has a few hundred; the service caps at 25,000). */
export const MAX_HISTORY_EVENTS = 2000;
const PAGE = 500;

export interface ExecutionEventView {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: string;
  readonly type: string;
  readonly state?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly resource?: string;
}

export interface ExecutionHistoryView {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly status: string;
  readonly startDate: string;
  readonly stopDate?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly events: ExecutionEventView[];
  readonly truncated: boolean;
}

const CAUSE_CHARS = 2000;

function eventView(e: HistoryEvent): ExecutionEventView {
  const details = Object.entries(e).find(([k, v]) => k.endsWith('EventDetails') && typeof v === 'object' && v !== null)?.[1] as Record<string, unknown> | undefined;
  const str = (k: string) => (typeof details?.[k] === 'string' ? (details[k] as string) : undefined);
  const state = str('name');
  const error = str('error');
  const cause = str('cause');
  const resource = str('resource');
  return {
    id: e.id ?? 0,
    previousEventId: e.previousEventId ?? 0,
    timestamp: (e.timestamp ?? new Date(0)).toISOString(),
    type: e.type ?? 'Unknown',
    ...(state !== undefined && { state }),
    ...(error !== undefined && { error }),
    ...(cause !== undefined && { cause: cause.slice(0, CAUSE_CHARS) }),
    ...(resource !== undefined && { resource }),
  };
}

export interface HistoryReader {
  read(executionArn: string): Promise<ExecutionHistoryView>;
  close(): void;
}

export function historyReader(target: ConsoleTarget, timeoutMs: number): HistoryReader | undefined {
  if (target.stepFunctionsUrl === undefined) return undefined;
  const client = new SFNClient({
    endpoint: target.stepFunctionsUrl,
    region: target.region,
    credentials: target.credentials,
    maxAttempts: 2,
  });
  const send = async <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await run(AbortSignal.timeout(timeoutMs));
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'ExecutionDoesNotExist') throw new ConsoleError(404, 'NotFound', `execution ${what} does not exist on the local Step Functions endpoint`);
      if (name === 'TimeoutError' || name === 'AbortError') throw new ConsoleError(504, 'UpstreamTimeout', `The local Step Functions endpoint did not answer within ${Math.round(timeoutMs / 1000)} s.`);
      throw new ConsoleError(502, 'StepFunctionsError', `The local Step Functions endpoint refused the request: ${name}: ${(e as Error).message}`);
    }
  };
  return {
    async read(executionArn) {
      if (!EXECUTION_ARN_PATTERN.test(executionArn)) {
        throw new ConsoleError(400, 'ValidationFailed', 'That is not an execution ARN.', { issues: [{ path: 'query.executionArn', message: 'must be arn:aws:states:<region>:<account>:execution:<machine>:<name>' }] });
      }
      const d = await send(executionArn, (abortSignal) => client.send(new DescribeExecutionCommand({ executionArn }), { abortSignal }));
      const events: ExecutionEventView[] = [];
      let nextToken: string | undefined;
      do {
        const page = await send(executionArn, (abortSignal) => client.send(new GetExecutionHistoryCommand({
          executionArn, maxResults: PAGE, includeExecutionData: false, ...(nextToken !== undefined && { nextToken }),
        }), { abortSignal }));
        events.push(...(page.events ?? []).map(eventView));
        nextToken = page.nextToken;
      } while (nextToken !== undefined && events.length < MAX_HISTORY_EVENTS);
      return {
        executionArn,
        name: d.name ?? '',
        stateMachineArn: d.stateMachineArn ?? '',
        status: d.status ?? 'UNKNOWN',
        startDate: (d.startDate ?? new Date(0)).toISOString(),
        ...(d.stopDate !== undefined && { stopDate: d.stopDate.toISOString() }),
        ...(d.error !== undefined && { error: d.error }),
        ...(d.cause !== undefined && { cause: d.cause.slice(0, CAUSE_CHARS) }),
        events: events.slice(0, MAX_HISTORY_EVENTS),
        truncated: nextToken !== undefined || events.length > MAX_HISTORY_EVENTS,
      };
    },
    close: () => client.destroy(),
  };
}
