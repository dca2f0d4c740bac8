/**
 * The node classes the simulated ComfyUI knows, with their INPUT_TYPES and RETURN_TYPES as
 * in ComfyUI's nodes.py (@a125cd8), and the /object_info document built from them.
 * Combo lists that ComfyUI reads from disk (checkpoints, input images) come from the
 * simulator's state.
 */

/** An input spec as ComfyUI serialises it: [type] or [type, options]; a combo's type is its list. */
export type InputSpec = readonly [string | readonly string[]] | readonly [string | readonly string[], Readonly<Record<string, unknown>>];

export interface NodeDef {
  readonly required: Readonly<Record<string, InputSpec>>;
  readonly optional?: Readonly<Record<string, InputSpec>>;
  readonly hidden?: Readonly<Record<string, string>>;
  readonly output: readonly string[];
  readonly outputName?: readonly string[];
  readonly outputTooltips?: readonly string[];
  readonly outputNode: boolean;
  readonly category: string;
  readonly displayName: string;
  readonly description: string;
  readonly pythonModule: string;
  /** Inputs checked by the class's VALIDATE_INPUTS instead of the min/max/combo checks. */
  readonly validatedBy?: readonly string[];
}

export interface DefsContext {
  readonly checkpoints: readonly string[];
  /** Top-level files of the input folder, sorted (LoadImage's list). */
  readonly inputFiles: readonly string[];
}

export const MAX_RESOLUTION = 16384;
export const UPSCALE_METHODS = ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'] as const;
export const SAMPLERS = [
  'euler', 'euler_cfg_pp', 'euler_ancestral', 'euler_ancestral_cfg_pp', 'heun', 'heunpp2', 'dpm_2', 'dpm_2_ancestral',
  'lms', 'dpm_fast', 'dpm_adaptive', 'dpmpp_2s_ancestral', 'dpmpp_2s_ancestral_cfg_pp', 'dpmpp_sde', 'dpmpp_sde_gpu',
  'dpmpp_2m', 'dpmpp_2m_cfg_pp', 'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun', 'dpmpp_2m_sde_heun_gpu',
  'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'ddpm', 'lcm', 'ipndm', 'ipndm_v', 'deis', 'res_multistep', 'res_multistep_cfg_pp',
  'res_multistep_ancestral', 'res_multistep_ancestral_cfg_pp', 'gradient_estimation', 'gradient_estimation_cfg_pp',
  'er_sde', 'seeds_2', 'seeds_3', 'sa_solver', 'sa_solver_pece', 'ddim', 'uni_pc', 'uni_pc_bh2',
] as const;
export const SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal'] as const;

export function nodeDefs(ctx: DefsContext): Readonly<Record<string, NodeDef>> {
  const image: InputSpec = ['IMAGE'];
  const base = { pythonModule: 'nodes', description: '' } as const;
  return {
    CheckpointLoaderSimple: {
      ...base,
      required: { ckpt_name: [ctx.checkpoints, { tooltip: 'The name of the checkpoint (model) to load.' }] },
      output: ['MODEL', 'CLIP', 'VAE'],
      outputTooltips: [
        'The model used for denoising latents.',
        'The CLIP model used for encoding text prompts.',
        'The VAE model used for encoding and decoding images to and from latent space.',
      ],
      outputNode: false, category: 'loaders', displayName: 'Load Checkpoint',
      description: 'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
    },
    LoadImage: {
      ...base,
      required: { image: [ctx.inputFiles, { image_upload: true }] },
      output: ['IMAGE', 'MASK'], outputNode: false, category: 'image', displayName: 'Load Image', validatedBy: ['image'],
    },
    LoadImageMask: {
      ...base,
      required: { image: [ctx.inputFiles, { image_upload: true }], channel: [['alpha', 'red', 'green', 'blue']] },
      output: ['MASK'], outputNode: false, category: 'mask', displayName: 'Load Image (as Mask)', validatedBy: ['image'],
    },
    ImageScale: {
      ...base,
      required: {
        image, upscale_method: [UPSCALE_METHODS],
        width: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
        height: ['INT', { default: 512, min: 0, max: MAX_RESOLUTION, step: 1 }],
        crop: [['disabled', 'center']],
      },
      output: ['IMAGE'], outputNode: false, category: 'image/upscaling', displayName: 'Upscale Image',
    },
    ImageInvert: {
      ...base,
      required: { image },
      output: ['IMAGE'], outputNode: false, category: 'image', displayName: 'Invert Image',
    },
    /** The test peer's weight-free node (shared/peers/comfyui/test-node): real progress, honours /interrupt. */
    ExpSlowProgress: {
      ...base, pythonModule: 'custom_nodes.vto_test_node',
      required: {
        image,
        steps: ['INT', { default: 5, min: 1, max: 10000 }],
        delay: ['FLOAT', { default: 0.2, min: 0.0, max: 10.0, step: 0.01 }],
      },
      output: ['IMAGE'], outputNode: false, category: 'testing', displayName: 'Exp Slow Progress (test)',
    },
    ImageCompositeMasked: {
      ...base, pythonModule: 'comfy_extras.nodes_mask',
      required: {
        destination: image, source: image,
        x: ['INT', { default: 0, min: 0, max: MAX_RESOLUTION, step: 1 }],
        y: ['INT', { default: 0, min: 0, max: MAX_RESOLUTION, step: 1 }],
        resize_source: ['BOOLEAN', { default: false }],
      },
      optional: { mask: ['MASK'] },
      output: ['IMAGE'], outputNode: false, category: 'image', displayName: 'ImageCompositeMasked',
    },
    CLIPTextEncode: {
      ...base,
      required: {
        text: ['STRING', { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' }],
        clip: ['CLIP', { tooltip: 'The CLIP model used for encoding the text.' }],
      },
      output: ['CONDITIONING'], outputNode: false, category: 'conditioning', displayName: 'CLIP Text Encode (Prompt)',
      description: 'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
    },
    InpaintModelConditioning: {
      ...base,
      required: {
        positive: ['CONDITIONING'], negative: ['CONDITIONING'], vae: ['VAE'], pixels: image, mask: ['MASK'],
        noise_mask: ['BOOLEAN', { default: true, tooltip: 'Add a noise mask to the latent so sampling will only happen within the mask. Might improve results or completely break things depending on the model.' }],
      },
      output: ['CONDITIONING', 'CONDITIONING', 'LATENT'], outputName: ['positive', 'negative', 'latent'],
      outputNode: false, category: 'conditioning/inpaint', displayName: 'InpaintModelConditioning',
    },
    VAEEncodeForInpaint: {
      ...base,
      required: { pixels: image, vae: ['VAE'], mask: ['MASK'], grow_mask_by: ['INT', { default: 6, min: 0, max: 64, step: 1 }] },
      output: ['LATENT'], outputNode: false, category: 'latent/inpaint', displayName: 'VAE Encode (for Inpainting)',
    },
    VAEEncode: {
      ...base,
      required: { pixels: image, vae: ['VAE'] },
      output: ['LATENT'], outputNode: false, category: 'latent', displayName: 'VAE Encode',
    },
    SetLatentNoiseMask: {
      ...base,
      required: { samples: ['LATENT'], mask: ['MASK'] },
      output: ['LATENT'], outputNode: false, category: 'latent/inpaint', displayName: 'Set Latent Noise Mask',
    },
    EmptyLatentImage: {
      ...base,
      required: {
        width: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8, tooltip: 'The width of the latent images in pixels.' }],
        height: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8, tooltip: 'The height of the latent images in pixels.' }],
        batch_size: ['INT', { default: 1, min: 1, max: 4096, tooltip: 'The number of latent images in the batch.' }],
      },
      output: ['LATENT'], outputNode: false, category: 'latent', displayName: 'Empty Latent Image',
      description: 'Create a new batch of empty latent images to be denoised via sampling.',
    },
    RepeatLatentBatch: {
      ...base,
      required: { samples: ['LATENT'], amount: ['INT', { default: 1, min: 1, max: 64 }] },
      output: ['LATENT'], outputNode: false, category: 'latent/batch', displayName: 'Repeat Latent Batch',
    },
    KSampler: {
      ...base,
      required: {
        model: ['MODEL', { tooltip: 'The model used for denoising the input latent.' }],
        // max is 0xffffffffffffffff in Python; a double holds it as 2^64.
        seed: ['INT', { default: 0, min: 0, max: 2 ** 64 - 1, control_after_generate: true, tooltip: 'The random seed used for creating the noise.' }],
        steps: ['INT', { default: 20, min: 1, max: 10000, tooltip: 'The number of steps used in the denoising process.' }],
        cfg: ['FLOAT', { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01, tooltip: 'The Classifier-Free Guidance scale balances creativity and adherence to the prompt.' }],
        sampler_name: [SAMPLERS, { tooltip: 'The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.' }],
        scheduler: [SCHEDULERS, { tooltip: 'The scheduler controls how noise is gradually removed to form the image.' }],
        positive: ['CONDITIONING', { tooltip: 'The conditioning describing the attributes you want to include in the image.' }],
        negative: ['CONDITIONING', { tooltip: 'The conditioning describing the attributes you want to exclude from the image.' }],
        latent_image: ['LATENT', { tooltip: 'The latent image to denoise.' }],
        denoise: ['FLOAT', { default: 1.0, min: 0.0, max: 1.0, step: 0.01, tooltip: 'The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling.' }],
      },
      output: ['LATENT'], outputTooltips: ['The denoised latent.'], outputNode: false, category: 'sampling', displayName: 'KSampler',
      description: 'Uses the provided model, positive and negative conditioning to denoise the latent image.',
    },
    VAEDecode: {
      ...base,
      required: {
        samples: ['LATENT', { tooltip: 'The latent to be decoded.' }],
        vae: ['VAE', { tooltip: 'The VAE model used for decoding the latent.' }],
      },
      output: ['IMAGE'], outputTooltips: ['The decoded image.'], outputNode: false, category: 'latent', displayName: 'VAE Decode',
      description: 'Decodes latent images back into pixel space images.',
    },
    SaveImage: {
      ...base,
      required: {
        images: ['IMAGE', { tooltip: 'The images to save.' }],
        filename_prefix: ['STRING', { default: 'ComfyUI', tooltip: 'The prefix for the file to save.' }],
      },
      hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
      output: [], outputNode: true, category: 'image', displayName: 'Save Image',
      description: 'Saves the input images to your ComfyUI output directory.',
    },
    PreviewImage: {
      ...base,
      required: { images: image },
      hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
      output: [], outputNode: true, category: 'image', displayName: 'Preview Image',
      description: 'Saves the input images to your ComfyUI output directory.',
    },
  };
}

/** One entry of GET /object_info, shaped as server.py's node_info(). */
export function nodeInfo(name: string, def: NodeDef): Record<string, unknown> {
  const input: Record<string, unknown> = { required: def.required };
  const inputOrder: Record<string, string[]> = { required: Object.keys(def.required) };
  if (def.optional !== undefined) {
    input['optional'] = def.optional;
    inputOrder['optional'] = Object.keys(def.optional);
  }
  if (def.hidden !== undefined) {
    input['hidden'] = def.hidden;
    inputOrder['hidden'] = Object.keys(def.hidden);
  }
  return {
    input,
    input_order: inputOrder,
    output: def.output,
    output_is_list: def.output.map(() => false),
    output_name: def.outputName ?? def.output,
    name,
    display_name: def.displayName,
    description: def.description,
    python_module: def.pythonModule,
    category: def.category,
    output_node: def.outputNode,
    ...(def.outputTooltips === undefined ? {} : { output_tooltips: def.outputTooltips }),
  };
}
