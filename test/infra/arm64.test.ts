/**
 * What deploys is what runs: `cdk synth` as an operator runs it, then EVERY function of the
 * synthesized assembly loaded from its asset, with its layers, on Node 24 linux-arm64 (under
 * qemu-user), with the template's environment (tokens replaced by the emulators' names and
 * URLs) and invoked with real events against DynamoDB Local, fauxqs S3 and the provider
 * simulators. The image functions do real sharp work with the layer's linux-arm64 sharp.
 *
 * One arm64 Node serves every function (test/support/lambda-host.ts), so qemu starts once.
 */
import { EVENT_SOURCE, detailTypeOf, packEvent } from '../../core/lifecycle.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATE_MACHINES, s3Keys } from '../../core/resources.ts';
import { ERROR_NAMES } from '../../core/taxonomy.ts';
import { getObject } from '../../adapters/artifacts.ts';
import { getJob } from '../../adapters/job-store.ts';
import { DEFAULT_STACK_NAME } from '../../lib/app.ts';
import { ESM_REQUIRE_BANNER, PROJECT_ROOT } from '../../lib/pipeline-function.ts';
import { startProviderSims, type ProviderSims } from '../../local/providers/server.ts';
import { STATE_FUNCTIONS } from '../../statemachines/tasks.ts';
import { Arm64LambdaHost, type InvocationResult } from '../support/arm64.ts';
import { awsEnv, provisionFresh } from '../support/aws.ts';
import { deployedFunctions, layOut, type DeployedFunction } from '../support/deployed-functions.ts';
import { seedPack } from '../support/jobs.ts';

/** Provider URLs given at synth as an operator would; each stands for a local simulator. */
const PROVIDER_CONTEXT = {
  segmentationUrl: 'https://segmentation.example.com',
  analyzerUrl: 'https://analyzer.example.com',
  hostedInpaintUrl: 'https://inpaint.example.com',
} as const;
const LOCAL_ACCOUNT = '000000000000';
const EXEC = `arn:aws:states:us-east-1:${LOCAL_ACCOUNT}:execution:${DEFAULT_STACK_NAME}-job:arm64-run-1`;

const outdir = mkdtempSync(join(tmpdir(), 'vto-arm64-out-'));
const root = mkdtempSync(join(tmpdir(), 'vto-arm64-fns-'));
let synth: { status: number | null; output: string; ms: number };
let functions: DeployedFunction[];
let sims: ProviderSims | undefined;
let host: Arm64LambdaHost | undefined;
const bundles = new Map<string, string>();
const envs = new Map<string, Record<string, string>>();
const results = new Map<string, InvocationResult[]>();

beforeAll(async () => {
  // The synth an operator runs (`npm run synth`, with provider URLs), bundling every function.
  const started = Date.now();
  const args = ['synth', '--no-notices', '-q', '-o', outdir, ...Object.entries(PROVIDER_CONTEXT).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const r = spawnSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 300_000,
    env: { ...process.env, PATH: `${join(PROJECT_ROOT, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  synth = { status: r.status, output: `${r.stdout}${r.stderr}`, ms: Date.now() - started };
  if (r.status !== 0) throw new Error(`cdk synth failed:\n${synth.output}`);
  functions = deployedFunctions(outdir, DEFAULT_STACK_NAME);
  for (const fn of functions) bundles.set(fn.name, layOut(fn, root));

  // Local values for the template's tokens: the emulators' tables, queues and bucket, local machine ARNs.
  const provisioned = await provisionFresh();
  sims = await startProviderSims({ hostedMs: 300 });
  const localUrl: Record<string, string> = {
    [PROVIDER_CONTEXT.segmentationUrl]: sims.urls.segmentation,
    [PROVIDER_CONTEXT.analyzerUrl]: sims.urls.analyzer,
    [PROVIDER_CONTEXT.hostedInpaintUrl]: sims.urls.hosted,
  };
  const localTokens: Record<string, string | null> = {
    ...provisioned.env,
    [STATE_MACHINES.job.envVar]: `arn:aws:states:us-east-1:${LOCAL_ACCOUNT}:stateMachine:${DEFAULT_STACK_NAME}-job`,
    [STATE_MACHINES.pack.envVar]: `arn:aws:states:us-east-1:${LOCAL_ACCOUNT}:stateMachine:${DEFAULT_STACK_NAME}-pack`,
    // No Secrets Manager emulator: the hosted simulator needs no key, as offline.
    HOSTED_INPAINT_SECRET_ARN: null,
    // Read only when a pack has a webhook (none here); Secrets Manager answers nothing in this test.
    VTO_WEBHOOK_SECRET_ARN: `arn:aws:secretsmanager:us-east-1:${LOCAL_ACCOUNT}:secret:vto-webhook`,
    // No EventBridge emulator: without a bus the functions announce nothing (lifecycle-events.ts).
    EVENT_BUS_NAME: null,
  };
  for (const fn of functions) {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(fn.environment)) {
      if (typeof value === 'string') { env[name] = localUrl[value] ?? value; continue; }
      const local = localTokens[name];
      if (local === undefined) throw new Error(`${fn.name}: no local value for ${name} = ${JSON.stringify(value)}`);
      if (local !== null) env[name] = local;
    }
    envs.set(fn.name, env);
  }

  // Every function sets NODE_OPTIONS the same way; the host process takes it as Lambda's node would.
  const nodeOptions = new Set(functions.map((f) => String(f.environment['NODE_OPTIONS'] ?? '')));
  expect(nodeOptions.size).toBe(1);
  host = new Arm64LambdaHost({
    env: {
      ...awsEnv(),
      // Services without an emulator answer at once (connection refused) rather than reach AWS.
      AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_CLOUDWATCH: 'http://127.0.0.1:9',
      LAMBDA_TASK_ROOT: '/var/task', TZ: ':UTC',
    },
    nodeOptions: [...nodeOptions][0]!.split(' ').filter(Boolean),
  });
}, 420_000);

afterAll(async () => {
  await host?.close();
  await sims?.stop();
  rmSync(outdir, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

async function invoke(name: string, event: unknown): Promise<InvocationResult> {
  const fn = functions.find((f) => f.name === name);
  if (fn === undefined || host === undefined) throw new Error(`no deployed function ${name}`);
  const r = await host.invoke({
    bundle: bundles.get(name)!, env: envs.get(name)!, event, functionName: `${DEFAULT_STACK_NAME}-${name}`,
    memoryMiB: fn.memoryMiB, timeoutSeconds: fn.timeoutSeconds,
  });
  results.set(name, [...(results.get(name) ?? []), r]);
  return r;
}

type State = Record<string, unknown>;
/** A state function's output, which is the machine's next state; fails with the function's error otherwise. */
async function step(name: string, state: State): Promise<State> {
  const r = await invoke(name, { state, executionArn: EXEC });
  if (!r.ok) throw new Error(`${name} failed on arm64: ${r.error.name}: ${r.error.message}\n${r.error.stack ?? ''}\n${host?.output.slice(-3000) ?? ''}`);
  return r.value as State;
}

describe('the synthesized assembly', () => {
  it('synthesizes with `cdk synth` and prints no warning', () => {
    expect(synth.status).toBe(0);
    expect(synth.output).not.toMatch(/warn/i);
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { metadata?: Record<string, { type: string; data: unknown }[]> }> };
    const warnings = Object.values(manifest.artifacts).flatMap((a) => Object.values(a.metadata ?? {}).flat()).filter((m) => m.type === 'aws:cdk:warning');
    expect(warnings).toEqual([]);
  });

  it('holds every function as an ESM bundle with the AWS SDK inside and sharp left to the layer', () => {
    expect(functions.map((f) => f.name)).toEqual(expect.arrayContaining([...STATE_FUNCTIONS, 'Handler', 'Watchdog', 'Reconciler']));
    const importsSharp: string[] = [];
    for (const fn of functions) {
      const code = readFileSync(join(fn.codeDir, 'index.mjs'), 'utf8');
      // The banner defines require for bundled CommonJS code, which ESM scope lacks.
      expect(code.startsWith(ESM_REQUIRE_BANNER), fn.name).toBe(true);
      expect(code, fn.name).not.toMatch(/sharp-linux-x64|sharp-linux-arm64/);
      expect(code, fn.name).toContain('@aws-sdk/');
      if (code.includes('from"sharp"')) importsSharp.push(fn.name);
    }
    expect(importsSharp).toEqual(expect.arrayContaining(['SegmentationCall', 'MaskAggregate', 'MaskExpand', 'Compose', 'QaCheck', 'PlanFix']));
  });

  it('gives every function the sharp layer for linux-arm64, at the project\'s sharp version', () => {
    for (const fn of functions) {
      expect(fn.layerDirs, fn.name).toHaveLength(1);
      const pkg = (p: string) => JSON.parse(readFileSync(join(fn.layerDirs[0]!, 'nodejs', 'node_modules', p, 'package.json'), 'utf8')) as { version: string; cpu?: string[] };
      expect(pkg('sharp').version).toBe(JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8')).version);
      expect(pkg('@img/sharp-linux-arm64').cpu).toEqual(['arm64']);
    }
  });
});

describe('every function on Node 24 linux-arm64', () => {
  it('starts the arm64 Node', async () => {
    expect(await host!.ready).toMatchObject({ arch: 'arm64', platform: 'linux', version: expect.stringMatching(/^v24\./) as unknown as string });
  }, 120_000);

  it('runs a hosted job through its stages, the image stages doing real sharp work', async () => {
    // Prepare
    const size = 128;
    const { pack, jobs: [job] } = await seedPack({ jobs: 2, inpaint: 'hosted', size });
    const ids = { packId: pack.packId, jobId: job!.jobId };

    // Act
    const loaded = await step('PackLoad', { packId: pack.packId });
    let s = await step('JobStart', ids);
    s = await step('SegmentationPlan', s);
    const calls = (s['segmentation'] as { calls: { prompt: string; variant: number }[] }).calls.slice(0, 2);
    const masks = [];
    for (const [index, call] of calls.entries()) masks.push(await step('SegmentationCall', { ...ids, index, call }));
    s = await step('MaskAggregate', { ...s, segmentation: { pass: 0, masks } });
    const aggregated = s['segmentation'] as { usable: number; aggregatedKey: string };
    s = await step('MaskExpand', s);
    s = await step('HostedSubmit', s);
    for (let polls = 0; s['inpaint'] === undefined || s['inpaint'] === null; polls++) {
      if (polls >= 20) throw new Error('the hosted simulator never finished');
      s = await step('HostedPoll', s);
    }
    s = await step('Compose', s);
    sims!.setFault('analyzer', job!.jobId, 'reject', 1);
    const qa = await invoke('QaCheck', { state: s, executionArn: EXEC });
    const fixed = await step('PlanFix', { ...s, lastError: { Error: 'Qa.Rejected', Cause: 'analyzer rejected' } });

    // Assess
    expect((loaded['jobs'] as unknown[]).length).toBe(2);
    expect(masks.every((m) => typeof m['maskKey'] === 'string')).toBe(true);
    expect(aggregated.usable).toBe(2);
    const stored = await getJob(job!.jobId);
    const result = await sharp(await getObject(s3Keys.artifact(pack.packId, job!.jobId, 'result.png'))).metadata();
    expect(result).toMatchObject({ format: 'png', width: size, height: size });
    expect(stored.checkpoints.segmentation).toBeDefined();
    expect(qa).toMatchObject({ ok: false, error: { name: 'Qa.Rejected' } });
    expect(fixed).toBeDefined();
    expect(stored.status).toBe('recovering');
  }, 240_000);

  it('runs the recovery steps, the failure and pack steps', async () => {
    // Prepare
    const { pack, jobs: [job] } = await seedPack({ jobs: 1, mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    const ids = { packId: pack.packId, jobId: job!.jobId };

    // Act
    await step('JobStart', ids);
    await step('InpaintPrepare', ids);
    await step('ReduceParams', { ...ids, lastError: { Error: 'Gpu.OutOfMemory', Cause: 'torch.OutOfMemoryError: CUDA out of memory' } });
    await step('InpaintPrepare', ids);
    await step('SwitchModel', { ...ids, lastError: { Error: 'Gpu.ModelMissing', Cause: "ckpt_name: 'x' not in []" } });
    await step('InpaintPrepare', ids);
    const backoff = await step('BackoffGpu', { ...ids, lastError: { Error: 'Transient.ServiceUnavailable', Cause: '503' } });
    const resumed = await step('ResumeCheckpoint', { ...ids, job: { resumeAt: 'segmentation', inpaint: 'comfyui' }, lastError: { Error: 'States.HeartbeatTimeout', Cause: '' } });
    await step('Resegment', { ...ids, lastError: { Error: 'Segmentation.DegenerateMask', Cause: 'empty mask' } });
    await step('JobFail', { ...ids, lastError: { Error: 'Unclassified', Cause: 'CUDA error: an illegal memory access was encountered' } });
    const finalized = await step('PackFinalize', { packId: pack.packId });
    await step('PackFail', { packId: pack.packId, lastError: { Error: 'States.Runtime', Cause: 'test' } });

    // Assess
    expect(backoff['backoff']).toMatchObject({ waitSeconds: expect.any(Number) as unknown as number });
    expect(resumed['job']).toEqual({ resumeAt: 'inpaint', inpaint: 'comfyui' });
    const stored = await getJob(job!.jobId);
    expect(stored).toMatchObject({ status: 'failed', error: { name: 'Unclassified' } });
    expect(stored.recoveries.map((r) => r.strategy)).toEqual(expect.arrayContaining(['REDUCE_PARAMS', 'SWITCH_MODEL', 'RESUME_CHECKPOINT', 'RESEGMENT']));
    expect(finalized['status']).toBe('failed');
  }, 240_000);

  it('serves the API, sweeps with the watchdog and reconciles an execution', async () => {
    // Prepare
    const { pack, jobs: [job] } = await seedPack({ jobs: 1 });

    // Act
    const api = await invoke('Handler', apiEvent('GET', '/packs/{id}', `/packs/${pack.packId}`, { id: pack.packId }));
    const sweep = await invoke('Watchdog', { 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date().toISOString(), detail: {} });
    const reconciled = await invoke('Reconciler', {
      source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn: `arn:aws:states:us-east-1:${LOCAL_ACCOUNT}:execution:${DEFAULT_STACK_NAME}-job:${job!.jobId}-1`,
        stateMachineArn: envs.get('Reconciler')![STATE_MACHINES.job.envVar], name: `${job!.jobId}-1`, status: 'ABORTED',
        input: JSON.stringify({ packId: pack.packId, jobId: job!.jobId }),
      },
    });

    // The webhook sender takes the pack's lifecycle event from its queue; the pack asked for no webhook.
    const detail = packEvent({ packId: pack.packId, name: pack.name, status: 'complete', runs: 1, jobCount: 1 }, new Date().toISOString());
    const sent = await invoke('WebhookSender', { Records: [{
      messageId: 'm1', receiptHandle: 'r1', md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:us-east-1:${LOCAL_ACCOUNT}:webhooks`, awsRegion: 'us-east-1', messageAttributes: {},
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'events', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      body: JSON.stringify({ version: '0', id: 'e1', 'detail-type': detailTypeOf(detail!.type), source: EVENT_SOURCE, account: LOCAL_ACCOUNT, time: new Date().toISOString(), region: 'us-east-1', resources: [], detail }),
    }] });

    // Assess
    expect(sent, host!.output.slice(-3000)).toMatchObject({ ok: true, value: { batchItemFailures: [] } });
    expect(api.ok && (api.value as { statusCode: number }).statusCode, JSON.stringify(api)).toBe(200);
    expect(JSON.parse((api as { value: { body: string } }).value.body)).toMatchObject({ packId: pack.packId });
    expect(sweep, host!.output.slice(-3000)).toMatchObject({ ok: true, value: { jobs: expect.any(Array) as unknown as unknown[] } });
    expect(reconciled, host!.output.slice(-3000)).toMatchObject({ ok: true, value: { kind: expect.any(String) as unknown as string } });
  }, 120_000);

  it('has invoked every function, and none failed but with an error the taxonomy names', () => {
    const names = functions.map((f) => f.name);
    expect(names.filter((n) => !results.has(n))).toEqual([]);
    const unnamed = [...results.entries()].flatMap(([n, rs]) => rs.filter((r) => !r.ok && !ERROR_NAMES.includes(r.error.name as never)).map((r) => `${n}: ${JSON.stringify(r)}`));
    expect(unnamed).toEqual([]);
  });
});

function apiEvent(method: string, resource: string, path: string, pathParameters: Record<string, string>): unknown {
  const now = Date.now();
  const headers = { host: 'api.example.com', accept: 'application/json' };
  return {
    resource, path, httpMethod: method, headers, multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters, stageVariables: null, body: null, isBase64Encoded: false,
    requestContext: {
      accountId: LOCAL_ACCOUNT, apiId: 'arm64', authorizer: null, protocol: 'HTTP/1.1', httpMethod: method, path: `/v1${path}`, stage: 'v1',
      requestId: `r-${now}`, requestTimeEpoch: now, resourceId: 'arm64', resourcePath: resource, domainName: 'api.example.com',
      identity: { accessKey: 'AKIDLOCAL', accountId: LOCAL_ACCOUNT, caller: 'AKIDLOCAL', sourceIp: '127.0.0.1', user: 'AKIDLOCAL', userAgent: 'arm64-test', userArn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/operator` },
    },
  };
}
