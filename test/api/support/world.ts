/**
 * The API as a caller meets it, without running the pipeline: fresh tables, queue and
 * bucket on the global emulators; a real local Step Functions service with the committed
 * pack and job machines registered; the local gateway (SigV4, 413, 415) in front of the
 * API handler. Every Lambda the machines invoke is bound to a function that HOLDS until
 * the test releases it or the execution is stopped, so executions stay RUNNING and
 * nothing but the API changes the tables: these tests check what the API accepts, writes
 * and starts, not what the pipeline does.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ListExecutionsCommand, SFNClient, type ExecutionListItem } from '@aws-sdk/client-sfn';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STATE_MACHINES } from '../../../core/resources.ts';
import { signedFetch, type SigningCredentials } from '../../../client/signed-fetch.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.ts';
import { startLocalApi, type LocalApi } from '../../../local/api-server.ts';
import type { Provisioned } from '../../../local/provision.ts';
import { startLocalStepFunctions, type LambdaHandler, type LocalStepFunctions } from '../../../local/stepfunctions/index.ts';
import { GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY, STATE_FUNCTIONS, functionArnKey } from '../../../statemachines/tasks.ts';
import { provisionFresh } from '../../support/aws.ts';

export const heldArn = (id: string) => `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:held-${id}`;

export interface CallOptions {
  readonly body?: unknown;
  /** Sent as is (no JSON encoding). */
  readonly rawBody?: string | Uint8Array;
  readonly headers?: Record<string, string>;
  readonly credentials?: SigningCredentials;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // The tests read answers loosely; their shapes are checked against the response schemas.
  readonly body: Record<string, unknown> & { error?: { code: string; message: string; issues?: { path: string; message: string }[] } };
  readonly text: string;
}

export interface ApiWorld {
  readonly api: LocalApi;
  readonly sfn: LocalStepFunctions;
  readonly sfnClient: SFNClient;
  readonly resources: Provisioned;
  readonly machines: { pack: string; job: string };
  call(method: string, path: string, o?: CallOptions): Promise<Answer>;
  /** Executions of a machine, any status. */
  executions(machine: 'pack' | 'job', status?: 'RUNNING' | 'ABORTED'): Promise<ExecutionListItem[]>;
  /** Writes an object to the bucket (an "upload" without the URL). */
  putUpload(key: string, body?: Buffer, contentType?: string): Promise<void>;
  stop(): Promise<void>;
}

/** Holds until the execution is stopped (its abort signal fires). */
const hold: LambdaHandler = (_event, context) => new Promise((_resolve, reject) => {
  context.abortSignal.addEventListener('abort', () => reject(new Error('execution stopped')), { once: true });
});

const aslText = (key: keyof typeof STATE_MACHINES) =>
  readFileSync(fileURLToPath(new URL(`../../../statemachines/${STATE_MACHINES[key].file}`, import.meta.url)), 'utf8');

export async function startApiWorld(env: Record<string, string> = {}): Promise<ApiWorld> {
  const resources = await provisionFresh();
  const sfn = await startLocalStepFunctions({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    lambdaHandlers: Object.fromEntries(STATE_FUNCTIONS.map((id) => [heldArn(id), hold])),
    // Never reached: every execution holds at its first function.
    sqs: { send: async () => ({}) },
    stopGraceMs: 200,
  });
  const substitutions: Record<string, string> = {
    [GPU_QUEUE_URL_KEY]: resources.queues.gpu.url,
    ...Object.fromEntries(STATE_FUNCTIONS.map((id) => [functionArnKey(id), heldArn(id)])),
  };
  const job = sfn.createStateMachine({ name: 'vto-job', definition: aslText('job'), substitutions });
  const pack = sfn.createStateMachine({ name: 'vto-pack', definition: aslText('pack'), substitutions: { ...substitutions, [JOB_STATE_MACHINE_ARN_KEY]: job.stateMachineArn } });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SFN: sfn.url,
    [STATE_MACHINES.job.envVar]: job.stateMachineArn,
    [STATE_MACHINES.pack.envVar]: pack.stateMachineArn,
    ...env,
  });
  // Imported only now: the handler's clients read the endpoints set above.
  const { handler } = await import('../../../lambdas/api/handler.ts');
  const api = await startLocalApi({ handler, region: LOCAL_REGION, credentials: [LOCAL_CREDENTIALS, OTHER_CALLER] });
  const sfnClient = new SFNClient({ endpoint: sfn.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const s3 = new S3Client({ forcePathStyle: true });

  return {
    api, sfn, sfnClient, resources,
    machines: { pack: pack.stateMachineArn, job: job.stateMachineArn },
    async call(method, path, o = {}) {
      const body = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      const headers = { ...(o.body !== undefined && { 'content-type': 'application/json' }), ...o.headers };
      const res = await signedFetch(`${api.url}${path}`, { method, headers, ...(body !== undefined && { body }) }, {
        credentials: o.credentials ?? LOCAL_CREDENTIALS, region: LOCAL_REGION,
      });
      const text = await res.text();
      let parsed: Answer['body'];
      try {
        parsed = JSON.parse(text) as Answer['body'];
      } catch {
        parsed = {};
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async executions(machine, status) {
      const res = await sfnClient.send(new ListExecutionsCommand({ stateMachineArn: machine === 'pack' ? pack.stateMachineArn : job.stateMachineArn, ...(status && { statusFilter: status }) }));
      return res.executions ?? [];
    },
    async putUpload(key, body = Buffer.from('image'), contentType = 'image/png') {
      await s3.send(new PutObjectCommand({ Bucket: resources.buckets.artifacts, Key: key, Body: body, ContentType: contentType }));
    },
    async stop() {
      await api.stop();
      await sfn.stop();
      sfnClient.destroy();
      s3.destroy();
    },
  };
}

/** A second signer the local gateway accepts: idempotency keys are per caller. */
export const OTHER_CALLER = { accessKeyId: 'vtoother', secretAccessKey: 'vtoothersecret' } as const;
