/**
 * The GPU task contract (core/gpu-message.ts) as the committed machines carry it: the GPU
 * task's MessageBody sends every message field from `$.gpu` under its own name, and what
 * it sends is what the worker's schema reads, enqueuedAt and action included.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPU_MESSAGE_FIELDS, gpuTaskAction, gpuTaskMessageSchema, gpuTaskSchema, type GpuTask } from '../../core/gpu-message.ts';
import { newJobRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import type { State } from '../../statemachines/asl-types.ts';
import { allStates } from './support/asl.ts';

const MACHINES = ['job', 'baseline'] as const;
const GPU_RESOURCE = 'arn:aws:states:::sqs:sendMessage.waitForTaskToken';

function gpuMessageBody(machine: (typeof MACHINES)[number]): Record<string, string> {
  const def = JSON.parse(readFileSync(new URL(`../../statemachines/${machine}.asl.json`, import.meta.url), 'utf8')) as { States: Record<string, State> };
  const tasks = allStates(def).filter(({ state }) => state['Resource'] === GPU_RESOURCE);
  expect(tasks).toHaveLength(1);
  return (tasks[0]!.state['Parameters'] as { MessageBody: Record<string, string> }).MessageBody;
}

/** What Step Functions would send: each `.$` path read from the state (one level below `$` or `$$.Task`). */
function send(body: Record<string, string>, state: Record<string, unknown>, token: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, path]) => {
    const value = path === '$$.Task.Token' ? token : path.slice(2).split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], state);
    return [k.replace(/\.\$$/, ''), value];
  }));
}

const task: GpuTask = {
  attempt: 2, workflow: { 1: { class_type: 'LoadImage', inputs: { image: '{{person}}' } } }, inputs: { person: 'uploads/p.png' },
  outputPrefix: 'out/j1/', deadlineSeconds: 600, enqueuedAt: '2026-01-01T00:00:00.000Z', action: 'reduce_params', timeoutSeconds: 900,
};

describe('the GPU task contract', () => {
  it.each(MACHINES)('%s: the GPU task sends the token, the job and every message field of $.gpu, each under its own name', (machine) => {
    const body = gpuMessageBody(machine);
    expect(body).toEqual({
      'taskToken.$': '$$.Task.Token', 'packId.$': '$.packId', 'jobId.$': '$.jobId',
      ...Object.fromEntries(GPU_MESSAGE_FIELDS.map((f) => [`${f}.$`, `$.gpu.${f}`])),
    });
    expect(Object.keys(body).map((k) => k.replace(/\.\$$/, '')).sort()).toEqual(Object.keys(gpuTaskMessageSchema.shape).sort());
  });

  it.each(MACHINES)('%s: the worker reads what the GPU task sends, action and enqueuedAt included', (machine) => {
    const sent = send(gpuMessageBody(machine), { packId: 'p1', jobId: 'j1', gpu: gpuTaskSchema.parse(task) }, 'tok');
    const { timeoutSeconds: _t, ...fields } = task;
    expect(gpuTaskMessageSchema.parse(sent)).toEqual({ ...fields, taskToken: 'tok', packId: 'p1', jobId: 'j1' });
  });

  it('reads a message from before action and enqueuedAt were sent as a first inpaint', () => {
    const { timeoutSeconds: _t, action: _a, enqueuedAt: _e, ...old } = task;
    expect(gpuTaskMessageSchema.parse({ ...old, taskToken: 'tok', packId: 'p1', jobId: 'j1' })).toMatchObject({ action: 'inpaint' });
    expect(gpuTaskMessageSchema.safeParse({ ...old, taskToken: 'tok', packId: 'p1', jobId: 'j1', action: 'Not A Label' }).success).toBe(false);
  });

  it('names an attempt inpaint first, then by the strategy of the failure that sent the job back to the GPU', () => {
    const job = newJobRecord({ packId: 'p1', jobId: 'j1', inpaint: 'comfyui', inputs: { person: 'a', garment: 'b' }, params: DEFAULT_PARAMS, now: task.enqueuedAt });
    expect(gpuTaskAction(job)).toBe('inpaint');
    const failed = {
      ...job, attempts: { gpu: 1, REDUCE_PARAMS: 1 },
      recoveries: [{ at: task.enqueuedAt, error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS' as const, fn: 'GPU', stage: 'inpaint' as const, attempt: 1, outcome: 'pending' as const }],
    };
    expect(gpuTaskAction(failed)).toBe('reduce_params');
  });
});
