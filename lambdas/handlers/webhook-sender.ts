/**
 * The webhook sender (SQS event source on the webhook queue, fed by an EventBridge rule on
 * the pipeline's bus): delivers each event to its pack's webhook. A message to retry has
 * its visibility set to its backoff and is reported as a batch item failure, so SQS hands
 * it back then; everything else is done and deleted.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { delayMessage, deliver } from '../../adapters/webhook-delivery.ts';
import { logger } from '../../adapters/logging.ts';

const base = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: { itemIdentifier: string }[] = [];
  for (const r of event.Records) {
    try {
      const outcome = await deliver({
        body: r.body, receiptHandle: r.receiptHandle,
        receiveCount: Number(r.attributes.ApproximateReceiveCount ?? '1'), sentAt: Number(r.attributes.SentTimestamp ?? Date.now()),
      });
      logger.info('webhook', { messageId: r.messageId, ...outcome });
      if (outcome.kind === 'retry') {
        await delayMessage(r.receiptHandle, outcome.delaySeconds);
        failures.push({ itemIdentifier: r.messageId });
      }
    } catch (e) {
      // Our own failure (DynamoDB, Secrets Manager): the message comes back after its visibility timeout.
      logger.error('webhook delivery failed', { messageId: r.messageId, error: e as Error });
      failures.push({ itemIdentifier: r.messageId });
    }
  }
  return { batchItemFailures: failures };
};

export const handler = middy(base).use(injectLambdaContext(logger, { resetKeys: true }));
