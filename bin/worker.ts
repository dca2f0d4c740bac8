#!/usr/bin/env node
/**
 * The GPU worker agent's entry point: `node bin/worker.ts --config worker.json`.
 * Prints one JSON line on stdout once its metrics server listens ({"metricsUrl": ...}) so
 * a parent process can find it; logs go to stderr as JSON lines. Exits 0 after SIGTERM /
 * SIGINT (drained) or an idle auto-shutdown, 1 on a configuration or start-up error.
 * SIGUSR2 asks it to scale in: it drains only if it holds no message, and answers one line
 * on stdout ({"scaleIn": "accepted" | "refused"}).
 */
import { Command, InvalidArgumentError } from 'commander';
import { BreakerStore, breakerSettingsFromEnv } from '../adapters/breaker-store.ts';
import { AttemptClaims } from '../adapters/attempt-claims.ts';
import { startPresence } from '../adapters/worker-presence.ts';
import { loadWorkerConfig, type WorkerConfig } from '../worker/config.ts';
import { hostBreaker } from '../worker/host-breaker.ts';
import { createLogger, type Logger } from '../worker/logger.ts';
import { taskProtectionFromEnv } from '../worker/task-protection.ts';
import { GpuWorker, type CircuitBreakerHook } from '../worker/worker.ts';

const log = createLogger({ level: 'info' });

const int = (v: string) => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

/** This ComfyUI host's breaker in the control table, when it is on and the table is known. */
function thisHostBreaker(config: WorkerConfig, workerLog: Logger): CircuitBreakerHook | undefined {
  if (!config.circuitBreaker) return undefined;
  if (config.controlTable === undefined) {
    workerLog.warn('circuit breaker off: CONTROL_TABLE is not set (set it, or VTO_CIRCUIT_BREAKER=off to silence this)');
    return undefined;
  }
  const store = new BreakerStore({
    table: config.controlTable,
    settings: breakerSettingsFromEnv(),
    onTransition: (t) => workerLog.warn('circuit breaker changed state', { ...t }),
  });
  const breaker = hostBreaker(store, { comfyUrl: config.comfyUrl, hostId: config.hostId, log: workerLog });
  workerLog.info('circuit breaker of this ComfyUI host', { breaker: breaker.key });
  return breaker;
}

async function main(): Promise<void> {
  const program = new Command('vto-worker')
    .description('ComfyUI GPU worker agent: runs GPU queue tasks on ComfyUI and answers their Step Functions tokens')
    .option('-c, --config <file>', 'JSON config file (default: env VTO_WORKER_CONFIG)')
    .option('--prefetch <n>', 'tasks taken beyond the running one (env VTO_PREFETCH)', int)
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
      prefetch: o['prefetch'], comfyUrl: o['comfyUrl'], queueUrl: o['queueUrl'], metricsPort: o['metricsPort'],
      requestTimeoutMs: o['requestTimeoutMs'], autoShutdownMs: o['autoShutdownMs'],
      workerStartTimeoutMs: o['workerStartTimeoutMs'], workerId: o['workerId'],
    },
  });
  const workerLog = createLogger({ level: config.logLevel, bound: { workerId: config.workerId } });
  const breaker = thisHostBreaker(config, workerLog);
  // Copies of one attempt run on one worker only; the claim is leased like the message.
  const claims = config.controlTable === undefined ? undefined
    : new AttemptClaims({ table: config.controlTable, workerId: config.workerId, ttlMs: config.visibilityTimeoutSeconds * 1000 });
  // In an ECS task: protected from scale-in while it holds a message (worker/task-protection.ts).
  const protection = taskProtectionFromEnv(process.env, workerLog);
  const worker = new GpuWorker({
    config, log: workerLog, ...(breaker && { breaker }), ...(claims && { claims }),
    ...(protection && { onHeldChange: (held: number) => protection.held(held > 0) }),
  });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal received; draining', { signal });
    void worker.stop('signal');
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // An offline scaler's scale-in (local/fleet-scaler.ts): leave only if holding nothing, and say which on stdout.
  process.on('SIGUSR2', () => {
    const accepted = worker.scaleIn();
    log.info(accepted ? 'scale-in: holding nothing; draining' : 'scale-in refused: holding a message or not polling', { health: worker.health() });
    process.stdout.write(`${JSON.stringify({ scaleIn: accepted ? 'accepted' : 'refused' })}\n`);
  });

  const metricsUrl = await worker.listen();
  process.stdout.write(`${JSON.stringify({ metricsUrl, workerId: config.workerId })}\n`);
  await worker.start();
  // GET /health counts this worker as capacity while the item is fresh, and as lost if it dies.
  const presence = config.controlTable === undefined ? undefined : await startPresence({
    table: config.controlTable, workerId: config.workerId, host: new URL(config.comfyUrl).host, slots: 1 + config.prefetch,
    leaseMs: config.visibilityTimeoutSeconds * 1000,
    onError: (err) => workerLog.warn('could not refresh the presence item', { err }),
  }).catch((err: unknown) => { workerLog.warn('could not write the presence item', { err }); return undefined; });
  const reason = await worker.done;
  await protection?.close();
  await presence?.leave().catch((err: unknown) => workerLog.warn('could not delete the presence item', { err }));
  log.info('exiting', { reason });
  process.exit(0);
}

main().catch((err: unknown) => {
  log.error(err instanceof Error ? err.message : String(err), { err });
  process.exit(1);
});
