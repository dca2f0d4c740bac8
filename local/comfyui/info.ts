/**
 * What the simulated ComfyUI says about itself: its index page, model folders and
 * /system_stats, shaped as ComfyUI 0.3.64 on an NVIDIA L4 answers them.
 */
import type { Vram } from './physics.ts';

export const MODEL_FOLDERS = [
  'checkpoints', 'configs', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'clip_vision', 'style_models', 'embeddings',
  'diffusers', 'vae_approx', 'controlnet', 'gligen', 'upscale_models', 'custom_nodes', 'hypernetworks', 'photomaker',
  'classifiers', 'model_patches', 'audio_encoders',
];

export const INDEX_HTML = '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>ComfyUI</title></head><body><div id="vue-app"></div></body></html>';

export function systemStats(vram: Vram, listen: { host: string; port: number }): Record<string, unknown> {
  const total = vram.totalMiB * 2 ** 20;
  const used = Math.min(total, vram.usedMiB * 2 ** 20);
  return {
    system: {
      os: 'posix', ram_total: 64 * 2 ** 30, ram_free: 48 * 2 ** 30, comfyui_version: '0.3.64',
      required_frontend_version: '1.27.10', installed_templates_version: '0.1.94', required_templates_version: '0.1.94',
      python_version: '3.12.3 (main, Sep 11 2025, 14:09:23) [GCC 13.3.0]', pytorch_version: '2.8.0+cu128', embedded_python: false,
      argv: ['main.py', '--listen', listen.host, '--port', String(listen.port)],
    },
    devices: [{
      name: 'cuda:0 NVIDIA L4 : cudaMallocAsync', type: 'cuda', index: 0,
      vram_total: total, vram_free: total - used, torch_vram_total: used, torch_vram_free: Math.round(used * 0.05),
    }],
  };
}
