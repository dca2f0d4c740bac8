#!/usr/bin/env node
/**
 * The simulated ComfyUI as a process: `node bin/sim-comfyui.ts --port 8188 --profile default`.
 * Prints one JSON line on stdout once it listens ({"url": ...}); stops cleanly on SIGTERM /
 * SIGINT (exit 0). The crash fault really kills it: exit code 137, as after SIGKILL. With
 * --fault-state, the per-job call counters survive that restart, so a crash decided for a
 * job's first run does not repeat on its retry.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { startComfySim } from '../local/comfyui/server.ts';
import { DEFAULT_INSTALLED_MODELS, DEFAULT_VRAM_MIB } from '../local/comfyui/physics.ts';
import { createFaultInjector, DEFAULT_FAULT_SEED, getProfile, type FaultInjector } from '../local/faults.ts';

const int = (v: string) => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};
const list = (v: string) => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** An injector whose call counters are saved to `file` after every decision. */
function persistentInjector(profile: string, seed: number, file: string | undefined): FaultInjector {
  const initial = file !== undefined && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {};
  const inner = createFaultInjector(profile, seed, initial);
  if (file === undefined) return inner;
  return {
    ...inner,
    next(service, key) {
      const kind = inner.next(service, key);
      writeFileSync(file, JSON.stringify(inner.counts()));
      return kind;
    },
  };
}

async function main(): Promise<void> {
  const program = new Command('sim-comfyui')
    .description('Simulated ComfyUI server (HTTP + WebSocket) for the offline runtime')
    .option('--port <n>', 'port; 0 = a free one', int, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--profile <name>', 'fault profile', 'none')
    .option('--seed <n>', 'fault seed', int, DEFAULT_FAULT_SEED)
    .option('--step-ms <n>', 'milliseconds per sampler step at 1024², batch 1', int, 20)
    .option('--model-load-ms <n>', 'milliseconds to load a checkpoint (default 10 × step)', int)
    .option('--vram-mib <n>', 'GPU memory', int, DEFAULT_VRAM_MIB)
    .option('--models <list>', 'installed checkpoints, comma-separated', list, [...DEFAULT_INSTALLED_MODELS])
    .option('--corrupt-models <list>', 'installed checkpoints that fail to load, comma-separated', list, [])
    .option('--missing-node-type', "answer unknown class_type with 'missing_node_type' (newer ComfyUI)")
    .option('--previews', 'send binary preview frames with each sampler step')
    .option('--fault-state <file>', 'JSON file keeping fault call counters across restarts')
    .showHelpAfterError();
  program.parse();
  const o = program.opts<{
    port: number; host: string; profile: string; seed: number; stepMs: number; modelLoadMs?: number; vramMib: number;
    models: string[]; corruptModels: string[]; missingNodeType?: boolean; previews?: boolean; faultState?: string;
  }>();
  getProfile(o.profile);

  const sim = await startComfySim({
    port: o.port, host: o.host, stepMs: o.stepMs, vramMiB: o.vramMib, installedModels: o.models, corruptModels: o.corruptModels,
    faults: persistentInjector(o.profile, o.seed, o.faultState),
    missingNodeErrorType: o.missingNodeType === true ? 'missing_node_type' : 'invalid_prompt',
    previews: o.previews === true,
    ...(o.modelLoadMs === undefined ? {} : { modelLoadMs: o.modelLoadMs }),
    onCrash: () => process.exit(137),
  });
  const onSignal = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.stdout.write(`${JSON.stringify({ url: sim.url, port: sim.port, profile: o.profile, seed: o.seed })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
