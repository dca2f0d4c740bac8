import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS, type InpaintParams } from '../../core/params.ts';
import { reduceParams } from '../../core/strategies.ts';
import { buildInpaintWorkflow, INPAINT_NODES, workflowSummary, WorkflowShapeError } from '../../core/workflow.ts';
import { nodeDefs } from '../../local/comfyui/node-defs.ts';
import { DEFAULT_INSTALLED_MODELS } from '../../local/comfyui/physics.ts';
import { validatePrompt } from '../../local/comfyui/validate.ts';

const IMAGES = { person: '{{person}}', mask: '{{mask}}', garment: '{{garment}}' };

describe('buildInpaintWorkflow', () => {
  it('builds an API-format graph of real ComfyUI node classes', () => {
    const wf = buildInpaintWorkflow(DEFAULT_PARAMS, IMAGES);

    expect(Object.values(wf).map((n) => n.class_type).sort()).toEqual([
      'CLIPTextEncode', 'CLIPTextEncode', 'CheckpointLoaderSimple', 'ImageCompositeMasked', 'ImageScale', 'ImageScale',
      'InpaintModelConditioning', 'KSampler', 'LoadImage', 'LoadImage', 'LoadImageMask', 'RepeatLatentBatch', 'SaveImage', 'VAEDecode',
    ]);
  });

  it('puts the parameters where ComfyUI reads them', () => {
    const params: InpaintParams = { ...DEFAULT_PARAMS, width: 768, height: 1152, steps: 25, batch: 3, seed: 7, denoise: 0.6, model: 'x.safetensors' };

    const wf = buildInpaintWorkflow(params, IMAGES, { filenamePrefix: 'vto/job-1' });

    const n = INPAINT_NODES;
    expect(wf[n.checkpoint]?.inputs).toEqual({ ckpt_name: 'x.safetensors' });
    expect(wf[n.scalePerson]?.inputs).toMatchObject({ width: 768, height: 1152, upscale_method: 'lanczos', crop: 'disabled' });
    expect(wf[n.batch]?.inputs).toMatchObject({ amount: 3 });
    expect(wf[n.sampler]?.inputs).toMatchObject({ seed: 7, steps: 25, denoise: 0.6, latent_image: [n.batch, 0] });
    expect(wf[n.save]?.inputs).toMatchObject({ filename_prefix: 'vto/job-1' });
  });

  it('passes the image names through untouched, so the worker can substitute its uploads', () => {
    const wf = buildInpaintWorkflow(DEFAULT_PARAMS, IMAGES);

    expect(wf[INPAINT_NODES.person]?.inputs['image']).toBe('{{person}}');
    expect(wf[INPAINT_NODES.garment]?.inputs['image']).toBe('{{garment}}');
    expect(wf[INPAINT_NODES.mask]?.inputs).toEqual({ image: '{{mask}}', channel: 'red' });
  });
});

describe('workflowSummary', () => {
  it.each([
    ['the defaults', DEFAULT_PARAMS],
    ['a reduced run', reduceParams({ ...DEFAULT_PARAMS, width: 1536, height: 1536, batch: 4 })!],
    ['a small one-image run', { ...DEFAULT_PARAMS, width: 512, height: 640, batch: 1, steps: 20, model: 'sd-1.5-inpainting.safetensors' }],
  ])('reads back what buildInpaintWorkflow was given (%s)', (_label, params) => {
    const summary = workflowSummary(buildInpaintWorkflow(params, IMAGES));

    expect(summary).toEqual({ model: params.model, width: params.width, height: params.height, batch: params.batch, steps: params.steps });
  });

  it('reads an EmptyLatentImage graph too', () => {
    const wf = {
      '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'm.safetensors' } },
      '2': { class_type: 'EmptyLatentImage', inputs: { width: 640, height: 512, batch_size: 2 } },
      '3': { class_type: 'KSampler', inputs: { model: ['1', 0], steps: 12, latent_image: ['2', 0] } },
    };

    expect(workflowSummary(wf)).toEqual({ model: 'm.safetensors', width: 640, height: 512, batch: 2, steps: 12 });
  });

  it('fails with a named error when there is no sampler', () => {
    expect(() => workflowSummary({ '1': { class_type: 'SaveImage', inputs: {} } })).toThrow(WorkflowShapeError);
  });
});

describe('the simulated ComfyUI', () => {
  it("accepts buildInpaintWorkflow's graph once the images exist", () => {
    const wf = buildInpaintWorkflow(DEFAULT_PARAMS, { person: 'p.png', mask: 'm.png', garment: 'g.png' });

    const result = validatePrompt(wf, {
      defs: nodeDefs({ checkpoints: DEFAULT_INSTALLED_MODELS, inputFiles: ['g.png', 'm.png', 'p.png'] }),
      imageExists: (name) => ['p.png', 'm.png', 'g.png'].includes(name),
      missingNodeErrorType: 'invalid_prompt',
    });

    expect(result).toEqual({ ok: true, outputs: [INPAINT_NODES.save], nodeErrors: {} });
  });
});
