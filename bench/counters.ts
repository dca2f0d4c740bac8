/**
 * Counts what the pipeline's own AWS clients do in this process (the Lambda handlers run in
 * process offline): DynamoDB items written and read with the capacity DynamoDB Local reports
 * (ReturnConsumedCapacity TOTAL, indexes included), and S3 requests. It hooks the shared
 * clients of adapters/aws-clients.ts from outside through their middleware stacks,
 * so no handler changes; the benchmark reads through clients of its own, which are not
 * counted.
 */
import type { MiddlewareStack } from '@smithy/types';
import { documentClient, s3Client } from '../adapters/aws-clients.ts';

export interface DynamoCounts {
  /** Items written (Put/Update/Delete one each; batch and transaction items each). */
  writes: number;
  /** Write request units as DynamoDB reported them; a refused conditional write is charged 1. */
  wru: number;
  reads: number;
  rru: number;
  conditionalFailures: number;
  byCommand: Record<string, number>;
}

export interface S3Counts {
  puts: number;
  gets: number;
  byCommand: Record<string, number>;
}

export interface ClientCounters {
  readonly dynamo: DynamoCounts;
  readonly s3: S3Counts;
  /** Zeroes the counts (after the workload is set up, before it runs). */
  reset(): void;
}

const WRITE_COMMANDS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);
const READ_COMMANDS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);
/** S3 bills PUT, COPY, POST and LIST at the PUT rate, everything else (GET, HEAD…) at the GET rate; DELETE is free. */
const S3_PUT_RATE = new Set(['PutObjectCommand', 'CopyObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand', 'ListObjectsV2Command', 'ListObjectsCommand']);
const S3_FREE = new Set(['DeleteObjectCommand', 'DeleteObjectsCommand']);

function capacityOf(output: unknown): number {
  const cc = (output as { ConsumedCapacity?: unknown } | undefined)?.ConsumedCapacity;
  const list = Array.isArray(cc) ? cc : cc === undefined ? [] : [cc];
  return list.reduce((n: number, c) => n + Number((c as { CapacityUnits?: number }).CapacityUnits ?? 0), 0);
}

function itemsWritten(command: string, input: Record<string, unknown>): number {
  if (command === 'BatchWriteItemCommand') {
    return Object.values((input['RequestItems'] ?? {}) as Record<string, unknown[]>).reduce((n, l) => n + l.length, 0);
  }
  if (command === 'TransactWriteItemsCommand') return ((input['TransactItems'] ?? []) as unknown[]).length;
  return 1;
}

const emptyDynamo = (): DynamoCounts => ({ writes: 0, wru: 0, reads: 0, rru: 0, conditionalFailures: 0, byCommand: {} });
const emptyS3 = (): S3Counts => ({ puts: 0, gets: 0, byCommand: {} });

/** Hooks the shared clients once per process and returns the live counters. */
export function installClientCounters(): ClientCounters {
  const counters = { dynamo: emptyDynamo(), s3: emptyS3() };
  // Both clients' stacks take the same middleware shape; the casts only widen their input and output types.
  const ddbStack = documentClient().middlewareStack as unknown as MiddlewareStack<object, object>;
  ddbStack.add((next, context) => async (args) => {
    const command = String(context.commandName);
    const input = args.input as Record<string, unknown>;
    const write = WRITE_COMMANDS.has(command);
    const read = READ_COMMANDS.has(command);
    if (write || read) input['ReturnConsumedCapacity'] ??= 'TOTAL';
    const d = counters.dynamo;
    d.byCommand[command] = (d.byCommand[command] ?? 0) + 1;
    try {
      const result = await next(args);
      if (write) {
        d.writes += itemsWritten(command, input);
        d.wru += capacityOf(result.output);
      } else if (read) {
        d.reads += 1;
        d.rru += capacityOf(result.output);
      }
      return result;
    } catch (e) {
      // AWS charges a refused conditional write; DynamoDB Local reports no capacity for it.
      if (write && (e as { name?: string }).name === 'ConditionalCheckFailedException') {
        d.conditionalFailures += 1;
        d.writes += 1;
        d.wru += 1;
      }
      throw e;
    }
  }, { step: 'initialize', name: 'benchDynamoCounter', override: true });

  const s3Stack = s3Client().middlewareStack as unknown as MiddlewareStack<object, object>;
  s3Stack.add((next, context) => async (args) => {
    const command = String(context.commandName);
    const s = counters.s3;
    s.byCommand[command] = (s.byCommand[command] ?? 0) + 1;
    if (S3_PUT_RATE.has(command)) s.puts += 1;
    else if (!S3_FREE.has(command)) s.gets += 1;
    return next(args);
  }, { step: 'initialize', name: 'benchS3Counter', override: true });

  return {
    get dynamo() { return counters.dynamo; },
    get s3() { return counters.s3; },
    reset() {
      counters.dynamo = emptyDynamo();
      counters.s3 = emptyS3();
    },
  };
}
