/**
 * The reconciler handler on DynamoDB Local and the local Step Functions service: what it must leave alone so it never fights the
 * pipeline (a job that really failed, an emergency stop, a run that is no longer the job's,
 * statuses the rule does not forward), and what it brings in line without restarting (a run
 * that failed on a non-recoverable error the item missed). Restarts: offline-recovery.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJobRecord, newPackRecord, type JobRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { resetConfig } from '../../adapters/config.ts';
import { EMERGENCY_STOP_FLAG, getJob, putPackWithJobs, setFlag } from '../../adapters/job-store.ts';
import type { ReconcileOutcome } from '../../adapters/reconcile.ts';
import { handler } from '../../lambdas/handlers/reconciler.ts';
import { sfnClient } from '../../adapters/aws-clients.ts';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions, type LocalStepFunctions } from '../../local/stepfunctions/index.ts';
import { provisionFresh } from '../support/aws.ts';
import { lambdaContext } from '../support/lambda.ts';

const JOB_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:vto-job';
const PACK_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:vto-pack';
const execution = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:vto-job:${name}`;

let sfn: LocalStepFunctions;

beforeAll(async () => {
  await provisionFresh();
  // A job machine whose runs just wait: a run that owns a job and is alive.
  sfn = await startLocalStepFunctions({ credentials: LOCAL_CREDENTIALS, region: 'us-east-1', accountId: '000000000000', lambdaHandlers: {} });
  const { stateMachineArn } = sfn.createStateMachine({ name: 'vto-job', definition: { StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 600, End: true } } } });
  expect(stateMachineArn).toBe(JOB_MACHINE);
  process.env['AWS_ENDPOINT_URL_SFN'] = sfn.url;
  process.env['JOB_STATE_MACHINE_ARN'] = JOB_MACHINE;
  process.env['PACK_STATE_MACHINE_ARN'] = PACK_MACHINE;
  resetConfig();
});

afterAll(async () => {
  await sfn?.stop();
  delete process.env['JOB_STATE_MACHINE_ARN'];
  delete process.env['PACK_STATE_MACHINE_ARN'];
  resetConfig();
});

/** A job of an ended pack; `over` sees the new job (for its id). */
async function seedJob(over: (j: JobRecord) => Partial<JobRecord>): Promise<JobRecord> {
  const now = new Date().toISOString();
  const packId = randomUUID();
  const base = { ...newJobRecord({ packId, jobId: randomUUID(), inpaint: 'comfyui', inputs: { person: 'p.png', garment: 'g.png' }, params: DEFAULT_PARAMS, now }), runs: 1 };
  const job = { ...base, ...over(base) };
  await putPackWithJobs({ ...newPackRecord({ packId, name: 'r', inpaint: 'comfyui', jobCount: 1, now }), status: 'stopped' }, [job]);
  return job;
}

function event(job: JobRecord, o: { name?: string; status: string; error?: string; cause?: string; machine?: string }) {
  const name = o.name ?? `${job.jobId}-1`;
  return {
    version: '0', id: randomUUID(), 'detail-type': 'Step Functions Execution Status Change', source: 'aws.states',
    account: '000000000000', time: new Date().toISOString(), region: 'us-east-1', resources: [execution(name)],
    detail: {
      executionArn: execution(name), stateMachineArn: o.machine ?? JOB_MACHINE, name, status: o.status,
      startDate: Date.now() - 1000, stopDate: Date.now(), input: JSON.stringify({ packId: job.packId, jobId: job.jobId }),
      inputDetails: { included: true }, output: null, outputDetails: null, error: o.error ?? null, cause: o.cause ?? null,
    },
  };
}

const reconcile = (e: unknown) => handler(e, lambdaContext('vto-reconciler')) as Promise<ReconcileOutcome>;

describe('the reconciler leaves alone', () => {
  it('a job whose run really failed: its item already says failed', async () => {
    // Prepare
    const job = await seedJob((j) => ({ status: 'failed', executionArn: execution(`${j.jobId}-1`), error: { name: 'Fatal.InvalidInput', cause: 'bad image', at: new Date().toISOString() } }));

    // Act
    const outcome = await reconcile(event(job, { status: 'FAILED', error: 'Fatal.InvalidInput' }));

    // Assess
    expect(outcome).toMatchObject({ kind: 'job', action: 'leave' });
    expect(await getJob(job.jobId)).toEqual(job);
  });

  it('an execution aborted by the emergency stop: the job keeps its state for resume', async () => {
    // Prepare
    const job = await seedJob((j) => ({ status: 'inpainting', executionArn: execution(`${j.jobId}-1`) }));
    await setFlag(EMERGENCY_STOP_FLAG, { since: new Date().toISOString() });

    // Act
    const outcome = await reconcile(event(job, { status: 'ABORTED', error: 'Control.Stopped' }));
    await setFlag(EMERGENCY_STOP_FLAG, null);

    // Assess
    expect(outcome).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(/emergency stop/) });
    expect((await getJob(job.jobId)).status).toBe('inpainting');
  });

  it('a run that is no longer the job\'s current execution, while the run that owns the job is alive', async () => {
    // Prepare: the job moved on to run 2, which is running.
    const job = await seedJob((j) => ({ status: 'segmenting', runs: 2, executionArn: execution(`${j.jobId}-2`) }));
    await sfnClient().send(new StartExecutionCommand({ stateMachineArn: JOB_MACHINE, name: `${job.jobId}-2`, input: '{}' }));

    // Act
    const outcome = await reconcile(event(job, { name: `${job.jobId}-1`, status: 'FAILED', error: 'Control.Stopped' }));

    // Assess
    expect(outcome).toMatchObject({ kind: 'ignored', reason: "not the job's current run" });
  });

  it.each(['RUNNING', 'SUCCEEDED'])('a %s event (the rule forwards only ended runs)', async (status) => {
    // Prepare
    const job = await seedJob(() => ({ status: 'segmenting' }));

    // Act
    const outcome = await reconcile(event(job, { status }));

    // Assess
    expect(outcome).toMatchObject({ kind: 'ignored' });
  });

  it('executions of other machines', async () => {
    // Prepare
    const job = await seedJob(() => ({ status: 'segmenting' }));

    // Act
    const outcome = await reconcile(event(job, { status: 'FAILED', machine: 'arn:aws:states:us-east-1:000000000000:stateMachine:other' }));

    // Assess
    expect(outcome).toMatchObject({ kind: 'ignored' });
  });
});

describe('the reconciler brings the item in line', () => {
  it('fails a job whose run failed on a non-recoverable error the item missed, never restarting it', async () => {
    // Prepare
    const job = await seedJob((j) => ({ status: 'inpainting', executionArn: execution(`${j.jobId}-1`) }));

    // Act
    const outcome = await reconcile(event(job, { status: 'FAILED', error: 'Fatal.DiskFull', cause: 'No space left on device' }));

    // Assess
    expect(outcome).toMatchObject({ kind: 'job', action: 'fail' });
    const after = await getJob(job.jobId);
    expect(after).toMatchObject({ status: 'failed', error: { name: 'Fatal.DiskFull', cause: 'No space left on device' }, needsIntervention: true });
    expect(after.recoveries).toEqual([expect.objectContaining({ fn: 'Reconciler', error: 'Fatal.DiskFull', strategy: 'ABORT', outcome: 'failed' })]);
    expect(after.watchdogRestarts).toBeUndefined();
  });

  it('refuses an event that is not a status change', async () => {
    await expect(reconcile({ source: 'aws.s3' })).rejects.toMatchObject({ name: 'Fatal.DataCorruption' });
  });
});
