import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../core/classifier.ts';
import { GpuTimeoutError } from '../../core/errors.ts';
import { TASK_FAILURE_LIMITS } from '../../core/gpu-message.ts';
import { ComfyHttpError } from '../../worker/comfy-client.ts';
import { cutText, ExecutionError, fitCause, toTaskFailure } from '../../worker/failure.ts';

const classifier = createClassifier();

const OOM_TIPS = 'This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.';

const promptError = (nodeErrors: Record<string, unknown>, type = 'prompt_outputs_failed_validation') => JSON.stringify({
  error: { type, message: 'Prompt outputs failed validation', details: '', extra_info: {} },
  node_errors: nodeErrors,
});

describe('naming a failed GPU task', () => {
  it.each([
    ['a /prompt 400 with a checkpoint not in the list', new ComfyHttpError('/prompt', 400, promptError({
      1: {
        errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: "ckpt_name: 'sdxl-x.safetensors' not in ['sd15.safetensors']", extra_info: { input_name: 'ckpt_name' } }],
        dependent_outputs: ['14'], class_type: 'CheckpointLoaderSimple',
      },
    })), 'Gpu.ModelMissing'],
    ['a /prompt 400 with an unreadable image', new ComfyHttpError('/prompt', 400, promptError({
      2: {
        errors: [{ type: 'custom_validation_failed', message: 'Custom validation failed for node', details: 'image - Invalid image file: person.png', extra_info: { input_name: 'image' } }],
        dependent_outputs: ['14'], class_type: 'LoadImage',
      },
    })), 'Fatal.InvalidInput'],
    ['a /prompt 400 for a graph with a missing node', new ComfyHttpError('/prompt', 400, JSON.stringify({
      error: { type: 'invalid_prompt', message: 'Cannot execute because node Nope does not exist.', details: "Node ID '#3'", extra_info: {} },
      node_errors: {},
    })), 'Fatal.WorkflowInvalid'],
    ['a /prompt 400 with a required input missing', new ComfyHttpError('/prompt', 400, promptError({
      12: { errors: [{ type: 'required_input_missing', message: 'Required input is missing', details: 'model', extra_info: { input_name: 'model' } }], dependent_outputs: [], class_type: 'KSampler' },
    })), 'Fatal.WorkflowInvalid'],
    ['a 503 from a proxy', new ComfyHttpError('/prompt', 503, '{"error":"Service Unavailable"}'), 'Transient.ServiceUnavailable'],
    ['a 502 HTML page', new ComfyHttpError('/prompt', 502, '<html><head><title>502 Bad Gateway</title></head></html>'), 'Transient.ServiceUnavailable'],
    ['a torch OOM during execution', new ExecutionError({
      prompt_id: 'p', node_id: '12', node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError',
      exception_message: `Allocation on device \n${OOM_TIPS}`, traceback: ['  File "execution.py", line 1'],
    }), 'Gpu.OutOfMemory'],
    ['a full disk in SaveImage', new ExecutionError({
      prompt_id: 'p', node_id: '14', node_type: 'SaveImage', exception_type: 'OSError',
      exception_message: "[Errno 28] No space left on device: '/comfy/output/x.png'\n", traceback: [],
    }), 'Fatal.DiskFull'],
    ['a refused connection', new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8188'), { code: 'ECONNREFUSED' }) }), 'Transient.Network'],
    ['a request timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'Transient.Network'],
    ['the worker deadline', new GpuTimeoutError('generation deadline of 100 ms exceeded'), 'Gpu.Timeout'],
  ])('names %s', (_label, error, expected) => {
    expect(toTaskFailure(error, classifier).error).toBe(expected);
  });

  it('summarises the failure as JSON with its context', () => {
    const f = toTaskFailure(new ExecutionError({ node_id: '14', node_type: 'SaveImage', exception_type: 'OSError', exception_message: '[Errno 28] No space left on device' }),
      classifier, { jobId: 'j1', attempt: 2, promptId: 'p1' });

    expect(JSON.parse(f.cause)).toMatchObject({
      node_id: '14', node_type: 'SaveImage', exception_type: 'OSError', jobId: 'j1', attempt: 2, promptId: 'p1',
      matched: expect.stringContaining('disk-full'),
    });
  });

  it('keeps the cause within the Step Functions limit with a huge traceback, as JSON, keeping the last lines', () => {
    const traceback = Array.from({ length: 5000 }, (_, i) => `  File "/comfy/execution.py", line ${i}, in execute\n    ${'x'.repeat(200)}\n`);
    traceback.push('torch.OutOfMemoryError: Allocation on device');
    const error = new ExecutionError({
      node_id: '12', node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError',
      exception_message: `Allocation on device ${'y'.repeat(100_000)}`, traceback,
    });

    const f = toTaskFailure(error, classifier);

    expect(f.error).toBe('Gpu.OutOfMemory');
    expect(f.cause.length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.cause);
    const parsed = JSON.parse(f.cause) as { traceback: string[] };
    expect(parsed.traceback.at(-1)).toBe('torch.OutOfMemoryError: Allocation on device');
  });

  it('cuts a summary that cannot be shrunk by fields to the limit', () => {
    const summary = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, 'z'.repeat(300)]));

    expect(fitCause(summary).length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.cause);
  });

  it('never leaves half a surrogate pair when cutting', () => {
    const cut = cutText('😀'.repeat(10), 8, '…');

    expect(cut.length).toBeLessThanOrEqual(8);
    expect(cut).toBe('😀😀😀…');
  });
});
