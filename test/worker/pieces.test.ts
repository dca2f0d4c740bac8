import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { historyEntrySchema } from '../../worker/comfy-client.ts';
import { gpuSecondsOf, outputFiles, outputKey } from '../../worker/job-runner.ts';
import { parseTaskBody, queueSeconds } from '../../worker/message.ts';
import { outcomeFromHistory, stallBound } from '../../worker/prompt-watch.ts';
import { comfyHostBreaker, isComfyHostBreaker } from '../../core/breaker.ts';
import { placeholdersIn, substitutePlaceholders } from '../../worker/workflow-inputs.ts';

const task = {
  taskToken: 'tok', packId: 'p1', jobId: 'j1', attempt: 1, inputs: { person: 'in/person.png' }, outputPrefix: 'out/',
  workflow: { 2: { class_type: 'LoadImage', inputs: { image: '{{person}}' } } },
};

describe('reading a queue message', () => {
  it.each([
    ['a body that is not JSON', 'nope', null],
    ['a body without a token', JSON.stringify({ jobId: 'j' }), null],
    ['a body with a token but no workflow', JSON.stringify({ taskToken: 'tok-7', jobId: 'j' }), 'tok-7'],
  ])('rejects %s, keeping the token when there is one', (_label, body, token) => {
    const r = parseTaskBody(body);

    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.taskToken).toBe(token);
  });

  it('labels the task with its action, inpaint when none is given', () => {
    expect(parseTaskBody(JSON.stringify(task))).toMatchObject({ ok: true, action: 'inpaint' });
    expect(parseTaskBody(JSON.stringify({ ...task, action: 'refine' }))).toMatchObject({ ok: true, action: 'refine' });
  });

  it('measures time in queue from enqueuedAt, else from SentTimestamp', () => {
    const m: Message = { Attributes: { SentTimestamp: '1000' } };

    expect(queueSeconds({ ...task, enqueuedAt: new Date(4000).toISOString() }, m, 6000)).toBe(2);
    expect(queueSeconds(task, m, 6000)).toBe(5);
    expect(queueSeconds(task, {}, 6000)).toBeNull();
  });
});

describe('workflow placeholders', () => {
  it('finds and replaces {{name}} strings in node inputs, leaving the rest', () => {
    const wf = {
      1: { class_type: 'LoadImage', inputs: { image: '{{person}}' } },
      2: { class_type: 'LoadImageMask', inputs: { image: '{{ mask }}', channel: 'red' } },
      3: { class_type: 'X', inputs: { list: ['{{person}}', 3], link: ['1', 0] } },
    };

    expect([...placeholdersIn(wf)].sort()).toEqual(['mask', 'person']);
    expect(substitutePlaceholders(wf, { person: 'j1-a1-person.png', mask: 'm.png' })).toEqual({
      1: { class_type: 'LoadImage', inputs: { image: 'j1-a1-person.png' } },
      2: { class_type: 'LoadImageMask', inputs: { image: 'm.png', channel: 'red' } },
      3: { class_type: 'X', inputs: { list: ['j1-a1-person.png', 3], link: ['1', 0] } },
    });
  });
});

describe('reading a history entry', () => {
  const entry = (status: unknown, outputs: unknown = {}) => historyEntrySchema.parse({ prompt: [], outputs, status });

  it.each([
    ['completed', entry({ status_str: 'success', completed: true, messages: [] }), 'success'],
    ['an execution_error', entry({ status_str: 'error', completed: false, messages: [['execution_error', { exception_message: 'boom' }]] }), 'error'],
    ['an interrupt', entry({ status_str: 'error', completed: false, messages: [['execution_interrupted', { node_id: '12' }]] }), 'interrupted'],
    ['not finished', entry({ status_str: 'success', completed: false, messages: [] }), null],
  ])('tells the outcome of %s', (_label, e, kind) => {
    expect(outcomeFromHistory(e)?.kind ?? null).toBe(kind);
  });

  it('collects only type "output" files and times the run from ComfyUI timestamps', () => {
    const e = entry(
      { status_str: 'success', completed: true, messages: [['execution_start', { timestamp: 1000 }], ['execution_success', { timestamp: 3500 }]] },
      { 14: { images: [{ filename: 'a.png', subfolder: 'vto', type: 'output' }, { filename: 'b.png', subfolder: '', type: 'temp' }] } },
    );

    expect(outputFiles(e)).toEqual([{ filename: 'a.png', subfolder: 'vto', type: 'output' }]);
    expect(gpuSecondsOf(e)).toBe(2.5);
    expect(outputKey('packs/p/jobs/j/inpaint', { filename: 'a.png', subfolder: 'vto', type: 'output' })).toBe('packs/p/jobs/j/inpaint/vto/a.png');
  });
});

describe('per-host breaker keys', () => {
  it.each([
    ['http://127.0.0.1:8188', 'gpu-a', 'comfyui#gpu-a:8188'],
    ['http://localhost:8190/', 'gpu-b', 'comfyui#gpu-b:8190'],
    ['http://10.0.3.7:8188', 'ignored', 'comfyui#10.0.3.7:8188'],
    ['https://comfy.internal', 'ignored', 'comfyui#comfy.internal:443'],
  ])('%s on %s is %s', (url, machine, key) => {
    expect(comfyHostBreaker(url, machine)).toBe(key);
    expect(isComfyHostBreaker(key)).toBe(true);
  });

  it('does not take a whole-dependency breaker for a host', () => {
    expect(isComfyHostBreaker('comfyui')).toBe(false);
  });
});

describe('the stall bound', () => {
  const bounds = { factor: 10, floorMs: 1000, firstProgressMs: 30_000 };

  it('is the first-progress bound until a step was seen', () => {
    expect(stallBound(bounds, null)).toBe(30_000);
  });

  it('is factor × the longest step, never below the floor', () => {
    expect(stallBound(bounds, 50)).toBe(1000);
    expect(stallBound(bounds, 400)).toBe(4000);
  });
});
