/**
 * Lambda's SQS event source, offline: long-polls a queue, invokes the handler with the
 * same event shape (one record per message, with its receive count and send time), and
 * deletes the messages the handler did not report as batch item failures.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext } from '../lambda-context.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface QueuePoller {
  stop(): Promise<void>;
}

// Lambda's SQS event source gives each batch the function's timeout; 30 s is the default.
const context = (name: string): Context => lambdaContext({ functionName: name, deadline: Date.now() + 30_000 });

export function startQueuePoller(o: { sqs: SQSClient; queueUrl: string; queueArn: string; name: string; handler: SqsHandler; onError?: (e: unknown) => void }): QueuePoller {
  let running = true;
  const abort = new AbortController();
  const loop = (async () => {
    while (running) {
      try {
        const res = await o.sqs.send(new ReceiveMessageCommand({
          QueueUrl: o.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'],
        }), { abortSignal: abort.signal });
        const messages = res.Messages ?? [];
        if (messages.length === 0) continue;
        const event: SQSEvent = {
          Records: messages.map((m) => ({
            messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '',
            attributes: {
              ApproximateReceiveCount: m.Attributes?.['ApproximateReceiveCount'] ?? '1',
              SentTimestamp: m.Attributes?.['SentTimestamp'] ?? String(Date.now()),
              SenderId: 'local', ApproximateFirstReceiveTimestamp: m.Attributes?.['ApproximateFirstReceiveTimestamp'] ?? String(Date.now()),
            },
            messageAttributes: {}, md5OfBody: m.MD5OfBody ?? '', eventSource: 'aws:sqs', eventSourceARN: o.queueArn, awsRegion: 'us-east-1',
          })),
        };
        const answer = await o.handler(event, context(o.name));
        const failed = new Set((answer?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        for (const m of messages) {
          if (!failed.has(m.MessageId!)) await o.sqs.send(new DeleteMessageCommand({ QueueUrl: o.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        }
      } catch (e) {
        if (!running) break;
        o.onError?.(e);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      abort.abort();
      await loop;
    },
  };
}
