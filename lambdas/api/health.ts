/**
 * GET /health: each dependency checked with a bounded call (DynamoDB, SQS queue and
 * dead-letter depth, Step Functions), the emergency flag, stuck jobs counted through the
 * byStatus index, circuit breakers from their hook and the control table (one per ComfyUI
 * host), and the GPU fleet's capacity from the workers' presence items; folded into status
 * and score.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { fleetOf, healthOf, type BreakerState, type DependencyCheck } from '../../core/health.ts';
import { GPU_TASK } from '../../core/resources.ts';
import { JOB_STATUSES, TERMINAL_JOB_STATUSES } from '../../core/status.ts';
import { s3Client, sfnClient, sqsClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { readFleetItems } from '../../adapters/fleet-state.ts';
import { EMERGENCY_STOP_FLAG, JOB_STORE_ACCESS, countJobsByStatus, getFlag } from '../../adapters/job-store.ts';
import { breakerStates } from './health-hooks.ts';
import type { Operation } from './operation.ts';
import { apiSettings } from './settings.ts';
import { access, grant } from '../../adapters/access.ts';

/** The dependencies GET /health probes: both queues' depths, the pack machine, the bucket; stuck jobs by the status index. */
export const HEALTH_ACCESS = access(
  JOB_STORE_ACCESS.jobsByStatus,
  grant('queue:gpu', 'sqs', 'GetQueueAttributes'), grant('queue:gpuDeadLetter', 'sqs', 'GetQueueAttributes'),
  grant('stateMachine:pack', 'states', 'DescribeStateMachine'), grant('bucket:artifacts', 's3', 'ListBucket'),
);

const CHECK_TIMEOUT_MS = 3000;
const UNFINISHED = JOB_STATUSES.filter((s) => !TERMINAL_JOB_STATUSES.includes(s));
/** A dead worker counts as lost capacity this long after its lease lapsed, unless it comes back (real seconds). */
const FORGET_LOST_WORKER_SECONDS = 15 * 60;

/** The hook's breakers (every provider, closed when never written), then the per-host ones the table holds. */
function mergeBreakers(known: readonly BreakerState[], stored: readonly BreakerState[]): BreakerState[] {
  const names = new Set(known.map((b) => b.dependency));
  return [...known, ...stored.filter((b) => !names.has(b.dependency)).sort((a, b) => a.dependency.localeCompare(b.dependency))];
}

async function check<T>(name: string, probe: () => Promise<T>): Promise<{ check: DependencyCheck; value: T | undefined }> {
  const started = performance.now();
  try {
    const value = await probe();
    return { check: { name, ok: true, latencyMs: Math.round(performance.now() - started) }, value };
  } catch (e) {
    const detail = e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e);
    return { check: { name, ok: false, latencyMs: Math.round(performance.now() - started), detail }, value: undefined };
  }
}

const timeout = () => ({ abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });

async function queueDepth(url: string) {
  const res = await sqsClient().send(new GetQueueAttributesCommand({
    QueueUrl: url,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  }), timeout());
  const n = (k: QueueAttributeName) => Number(res.Attributes?.[k] ?? 0) || 0;
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

export const getHealth: Operation<'getHealth'> = async () => {
  const c = config();
  const s = apiSettings();
  const now = Date.now();
  const cutoff = (status: string) => new Date(now - s.stuckAfterSeconds * 1000
    // A GPU task may wait for a worker as long as its pack allows: not stuck while it does.
    - (status === 'inpainting' ? GPU_TASK.waitMinutes.default * 60_000 : 0)).toISOString();
  const [dynamo, gpu, dlq, sfn, s3, stuck, hooked, fleetItems] = await Promise.all([
    check('dynamodb', () => getFlag(EMERGENCY_STOP_FLAG)),
    c.gpuQueueUrl === undefined ? undefined : check('sqs', () => queueDepth(c.gpuQueueUrl as string)),
    s.deadLetterQueueUrl === undefined ? undefined : check('sqs-dead-letter', () => queueDepth(s.deadLetterQueueUrl as string)),
    c.packStateMachineArn === undefined ? undefined
      : check('stepfunctions', () => sfnClient().send(new DescribeStateMachineCommand({ stateMachineArn: c.packStateMachineArn }), timeout())),
    check('s3', () => s3Client().send(new HeadBucketCommand({ Bucket: c.bucket }), timeout())),
    Promise.all(UNFINISHED.map(async (status) => [status, await countJobsByStatus(status, { olderThan: cutoff(status) }).catch(() => 0)] as const)),
    breakerStates().catch(() => []),
    readFleetItems(c.controlTable, { timeoutMs: CHECK_TIMEOUT_MS }).catch(() => null),
  ]);
  const breakers = mergeBreakers(hooked, fleetItems?.breakers ?? []);
  const fleet = fleetItems === null ? null : fleetOf(fleetItems.workers, now, FORGET_LOST_WORKER_SECONDS * 1000 * c.timeScale);
  const flag = dynamo.value;
  const emergencyStopped = flag?.['active'] === true;
  const dependencies = [dynamo, gpu, dlq, sfn, s3].flatMap((x) => (x === undefined ? [] : [x.check]));
  const byStatus = Object.fromEntries(stuck.filter(([, n]) => n > 0));
  const stuckCount = stuck.reduce((n, [, k]) => n + k, 0);
  const deadLetterDepth = dlq?.value?.visible ?? null;
  const { status, score } = healthOf({ dependencies, breakers, emergencyStopped, stuckJobs: stuckCount, deadLetterDepth, fleet, gpuQueued: gpu?.value?.visible ?? null });
  return {
    status: 200,
    body: {
      status, score, checkedAt: new Date().toISOString(), emergencyStopped,
      ...(emergencyStopped && {
        emergencyStop: {
          since: typeof flag?.['since'] === 'string' ? flag['since'] : String(flag?.['updatedAt'] ?? ''),
          ...(typeof flag?.['reason'] === 'string' && { reason: flag['reason'] }),
        },
      }),
      dependencies,
      queues: { gpu: gpu?.value ?? null, deadLetter: dlq?.value ? { visible: dlq.value.visible } : null },
      stuckJobs: { count: stuckCount, thresholdSeconds: s.stuckAfterSeconds, byStatus },
      circuitBreakers: breakers,
      fleet: fleet === null ? null : {
        workersAlive: fleet.alive, workersLost: fleet.lost, slots: fleet.slots, workers: [...fleet.workers],
      },
    },
  };
};
