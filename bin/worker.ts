#!/usr/bin/env node
/**
 * The GPU worker agent's entry point: `node bin/worker.ts --config worker.json`.
 * Prints one JSON line on stdout once its metrics server listens ({"metricsUrl": ...}) so
 * a parent process can find it; logs go to stderr as JSON lines. Exits 0 after SIGTERM /
 * SIGINT (drained) or an idle auto-shutdown, 1 on a configuration or start-up error.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadWorkerConfig } from '../worker/config.ts';
import { createLogger } from '../worker/logger.ts';
import { GpuWorker } from '../worker/worker.ts';

const log = createLogger({ level: 'info' });

const int = (v: string) => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

async function main(): Promise<void> {
  const program = new Command('vto-worker')
    .description('ComfyUI GPU worker agent: runs GPU queue tasks on ComfyUI and answers their Step Functions tokens')
    .option('-c, --config <file>', 'JSON config file (default: env VTO_WORKER_CONFIG)')
    .option('--pool-size <n>', 'jobs run at once', int)
    .option('--comfy-url <url>', 'ComfyUI base URL (env COMFYUI_URL)')
    .option('--queue-url <url>', 'GPU queue URL (env GPU_QUEUE_URL)')
    .option('--metrics-port <n>', 'port of /metrics and /healthz; 0 = a free port', int)
    .option('--request-timeout-ms <n>', 'timeout of each HTTP call to ComfyUI and S3', int)
    .option('--auto-shutdown-ms <ms|off>', 'exit 0 after this long idle; 0 or "off" disables')
    .option('--worker-start-timeout-ms <ms|off>', 'longest wait for ComfyUI at start; 0 or "off" skips it')
    .option('--worker-id <id>', 'name in logs, metrics and task outputs')
    .showHelpAfterError();
  program.parse();
  const o = program.opts<Record<string, string | number | undefined>>();

  const config = loadWorkerConfig({
    configPath: o['config'] as string | undefined,
    overrides: {
      poolSize: o['poolSize'], comfyUrl: o['comfyUrl'], queueUrl: o['queueUrl'], metricsPort: o['metricsPort'],
      requestTimeoutMs: o['requestTimeoutMs'], autoShutdownMs: o['autoShutdownMs'],
      workerStartTimeoutMs: o['workerStartTimeoutMs'], workerId: o['workerId'],
    },
  });
  const worker = new GpuWorker({ config, log: createLogger({ level: config.logLevel, bound: { workerId: config.workerId } }) });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal received; draining', { signal });
    void worker.stop('signal');
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const metricsUrl = await worker.listen();
  process.stdout.write(`${JSON.stringify({ metricsUrl, workerId: config.workerId })}\n`);
  await worker.start();
  const reason = await worker.done;
  log.info('exiting', { reason });
  process.exit(0);
}

main().catch((err: unknown) => {
  log.error(err instanceof Error ? err.message : String(err), { err });
  process.exit(1);
});
