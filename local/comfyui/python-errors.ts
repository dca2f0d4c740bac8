/**
 * Python exceptions the simulated nodes raise, with the type names, messages and
 * traceback lines ComfyUI puts in `execution_error` (execution.py: exception_type is
 * module.qualname, bare for builtins; traceback is traceback.format_tb()).
 */

/** An exception raised by a node; becomes an execution_error. */
export class PythonException extends Error {
  override readonly name = 'PythonException';
  /** e.g. "torch.OutOfMemoryError", "OSError". */
  readonly pyType: string;
  readonly traceback: string[];
  readonly isOom: boolean;

  /** `oom`: a CUDA out-of-memory error, after which ComfyUI unloads every model. */
  constructor(pyType: string, message: string, traceback: string[], options: { oom?: boolean } = {}) {
    super(message);
    this.pyType = pyType;
    this.traceback = traceback;
    this.isOom = options.oom === true;
  }
}

/** comfy.model_management.InterruptProcessingException; becomes execution_interrupted. */
export class InterruptProcessing extends Error {
  override readonly name = 'InterruptProcessingException';
}

/** The server stopped or crashed under a running prompt: nothing more is sent or recorded. */
export class ServerGone extends Error {
  override readonly name = 'ServerGone';
}

const ROOT = '/opt/ComfyUI';

const frame = (file: string, line: number, fn: string, code: string) => `  File "${file}", line ${line}, in ${fn}\n    ${code}\n`;

/** The frames every node call goes through in execution.py. */
const EXECUTION_FRAMES = [
  frame(`${ROOT}/execution.py`, 496, 'execute',
    'output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)'),
  frame(`${ROOT}/execution.py`, 315, 'get_output_data',
    'return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)'),
  frame(`${ROOT}/execution.py`, 289, '_async_map_node_over_list', 'await process_inputs(input_dict, i)'),
  frame(`${ROOT}/execution.py`, 277, 'process_inputs', 'result = f(**inputs)'),
];

const NODE_FRAMES: Record<string, string[]> = {
  KSampler: [
    frame(`${ROOT}/nodes.py`, 1525, 'sample', 'return common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise=denoise)'),
    frame(`${ROOT}/nodes.py`, 1492, 'common_ksampler', 'samples = comfy.sample.sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,'),
    frame(`${ROOT}/comfy/sample.py`, 45, 'sample', 'samples = sampler.sample(noise, positive, negative, cfg=cfg, latent_image=latent_image, start_step=start_step, last_step=last_step, force_full_denoise=force_full_denoise, denoise_mask=noise_mask, sigmas=sigmas, callback=callback, disable_pbar=disable_pbar, seed=seed)'),
    frame(`${ROOT}/comfy/samplers.py`, 1163, 'sample', 'return sample(self.model, noise, positive, negative, cfg, self.device, sampler, sigmas, self.model_options, latent_image=latent_image, denoise_mask=denoise_mask, callback=callback, disable_pbar=disable_pbar, seed=seed)'),
    frame(`${ROOT}/comfy/ldm/modules/attention.py`, 545, 'attention_pytorch', 'out = comfy.ops.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)'),
  ],
  SaveImage: [
    frame(`${ROOT}/nodes.py`, 1601, 'save_images', "img.save(os.path.join(full_output_folder, file), pnginfo=metadata, compress_level=self.compress_level)"),
    frame('/usr/local/lib/python3.12/site-packages/PIL/Image.py', 2591, 'save', 'save_handler(self, fp, filename)'),
    frame('/usr/local/lib/python3.12/site-packages/PIL/PngImagePlugin.py', 1495, '_save', 'ImageFile._save('),
    frame('/usr/local/lib/python3.12/site-packages/PIL/ImageFile.py', 646, '_save', 'fp.write(data)'),
  ],
  CheckpointLoaderSimple: [
    frame(`${ROOT}/nodes.py`, 576, 'load_checkpoint', 'ckpt_path = folder_paths.get_full_path_or_raise("checkpoints", ckpt_name)'),
    frame(`${ROOT}/folder_paths.py`, 316, 'get_full_path_or_raise', 'raise FileNotFoundError(f"Model in folder \'{folder_name}\' with filename \'{filename}\' not found.")'),
  ],
  LoadImage: [
    frame(`${ROOT}/nodes.py`, 1646, 'load_image', 'img = node_helpers.pillow(Image.open, image_path)'),
    frame(`${ROOT}/node_helpers.py`, 21, 'pillow', 'x = fn(arg)'),
    frame('/usr/local/lib/python3.12/site-packages/PIL/Image.py', 3580, 'open', 'raise UnidentifiedImageError(msg)'),
  ],
};

NODE_FRAMES['LoadImageMask'] = NODE_FRAMES['LoadImage']!.map((f) => f.replace('line 1646', 'line 1720'));
NODE_FRAMES['CheckpointLoaderSimple:corrupt'] = [
  frame(`${ROOT}/nodes.py`, 577, 'load_checkpoint', 'out = comfy.sd.load_checkpoint_guess_config(ckpt_path, output_vae=True, output_clip=True, embedding_directory=folder_paths.get_folder_paths("embeddings"))'),
  frame(`${ROOT}/comfy/sd.py`, 1033, 'load_checkpoint_guess_config', 'sd, metadata = comfy.utils.load_torch_file(ckpt_path, return_metadata=True)'),
  frame(`${ROOT}/comfy/utils.py`, 70, 'load_torch_file', 'raise e'),
  frame(`${ROOT}/comfy/utils.py`, 56, 'load_torch_file', 'with safetensors.safe_open(ckpt, framework="pt", device=device.type) as f:'),
];

/** Traceback lines for an exception raised in a node of `classType` (`variant` picks another failure site). */
export function tracebackFor(classType: string, variant?: string): string[] {
  const key = variant === undefined ? classType : `${classType}:${variant}`;
  return [...EXECUTION_FRAMES, ...(NODE_FRAMES[key] ?? NODE_FRAMES[classType] ?? [])];
}

export const INPUT_DIR = `${ROOT}/input`;
export const OUTPUT_DIR = `${ROOT}/output`;
