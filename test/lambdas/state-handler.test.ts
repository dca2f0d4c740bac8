/**
 * The middy stack of state functions, composed of small middlewares: the job is read once
 * per invocation, a failure leaves taxonomy-named and is recorded in the job's ledger, a
 * stop is not recorded, and a state that cannot be read names no job.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { getJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../../lambdas/state/state-handler.ts';
import { jobStateSchema } from '../../lambdas/state/state-schemas.ts';
import { StoppedError } from '../../core/errors.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';
import { lambdaContext } from '../support/lambda.ts';

beforeAll(async () => {
  await provisionFresh();
});

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:job:test-1';

describe('stateHandler', () => {
  it('reads the job once per invocation and hands it to the body', async () => {
    const { jobs: [seeded] } = await seedPack();
    const handler = stateHandler({ fn: 'Compose', stage: 'compositing', schema: jobStateSchema }, async ({ job }) => ({ seen: job?.jobId }));
    const client = documentClient();
    const send = client.send.bind(client);
    let reads = 0;
    const spy = vi.spyOn(client, 'send').mockImplementation(((command: object) => {
      if (command instanceof GetCommand && (command.input.Key as { jobId?: string }).jobId === seeded!.jobId) reads++;
      return send(command as never);
    }) as typeof client.send);
    try {
      const out = await handler({ state: { packId: seeded!.packId, jobId: seeded!.jobId, lastError: { Error: 'x' } }, executionArn: EXEC }, lambdaContext('Compose'));
      expect(out).toEqual({ packId: seeded!.packId, jobId: seeded!.jobId, seen: seeded!.jobId });
    } finally {
      spy.mockRestore();
    }
    expect(reads).toBe(1);
  });

  it('names an unnamed failure by the taxonomy and records it in the ledger; a stop leaves no entry', async () => {
    const { jobs: [seeded] } = await seedPack();
    const state = { packId: seeded!.packId, jobId: seeded!.jobId };
    const failing = stateHandler({ fn: 'Compose', stage: 'compositing', schema: jobStateSchema }, async () => {
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    });
    const err = await failing({ state, executionArn: EXEC }, lambdaContext('Compose')).catch((e: unknown) => e as Error);
    expect(err.name).toMatch(/^Transient\./);
    const stopping = stateHandler({ fn: 'Compose', stage: 'compositing', schema: jobStateSchema }, async () => {
      throw new StoppedError('stop');
    });
    await expect(stopping({ state, executionArn: EXEC }, lambdaContext('Compose'))).rejects.toMatchObject({ name: 'Control.Stopped' });
    const job = await getJob(seeded!.jobId);
    expect(job.recoveries).toEqual([expect.objectContaining({ error: err.name, fn: 'Compose', stage: 'compositing', outcome: 'pending' })]);
  });

  it('refuses a state it cannot read as Fatal.DataCorruption naming the field', async () => {
    const handler = stateHandler({ fn: 'Compose', stage: 'compositing', schema: jobStateSchema }, async () => ({}));
    await expect(handler(null, lambdaContext('Compose'))).rejects.toMatchObject({ name: 'Fatal.DataCorruption' });
    await expect(handler({ state: { jobId: 7 }, executionArn: EXEC }, lambdaContext('Compose'))).rejects.toMatchObject({ name: 'Fatal.DataCorruption', message: expect.stringMatching(/jobId/) });
  });
});
