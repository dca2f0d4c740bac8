/**
 * The GPU worker's settings: a JSON file (path from --config or VTO_WORKER_CONFIG), then
 * environment variables, then explicit overrides (CLI flags), parsed once by one zod
 * schema. Errors name the field and the reason as core/settings.ts words them, then the
 * value and where it came from (the layers are why this is not loadSettings itself).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { customPatternsSchema } from '../core/classifier.ts';
import { describeIssue } from '../core/settings.ts';
import { GPU_TASK, QUEUES } from '../core/resources.ts';

/** Default lease: SQS visibility and attempt claim, renewed at a third of it while a job is held. */
export const DEFAULT_LEASE_SECONDS = Math.min(30, QUEUES.gpu.visibilityTimeoutSeconds);

export class WorkerConfigError extends Error {
  override readonly name = 'WorkerConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid GPU worker configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Strings from the environment or flags that look like numbers become numbers. */
function numberish(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  return /^[-+]?\d+(?:\.\d+)?(?:e\d+)?$/i.test(t) ? Number(t) : v;
}

/** `null`, 0, "0", "off" mean "disabled" (the seeds' forms), read as null. */
function offable(v: unknown): unknown {
  if (v === null) return null;
  if (typeof v === 'string' && ['off', 'null', 'none', 'disabled'].includes(v.trim().toLowerCase())) return null;
  const n = numberish(v);
  return n === 0 ? null : n;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    numberish,
    z.number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be ≥ ${min}` })
      .max(max, { error: `must be ≤ ${max}` }),
  );

const msOrOff = (what: string) =>
  z.preprocess(
    offable,
    z.number({ error: `must be a number of milliseconds, or null / 0 / "off" to disable ${what}` })
      .int({ error: 'must be a whole number of milliseconds' })
      .min(1, { error: `must be > 0 milliseconds (0, null or "off" disable ${what})` })
      .nullable(),
  );

/** on/off switches: true, false, "on", "off", "true", "false", 1, 0. */
const onOff = z.preprocess((v) => {
  if (typeof v === 'number') return v !== 0;
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  return ['on', 'true', '1', 'yes'].includes(t) ? true : ['off', 'false', '0', 'no'].includes(t) ? false : v;
}, z.boolean({ error: 'must be on or off (true/false)' }));

const httpUrl = (envVar: string) =>
  z.url({ protocol: /^https?$/, error: (iss) => (iss.input === undefined ? `is required (env ${envVar})` : 'must be an http(s) URL') });

export const workerConfigSchema = z.strictObject({
  /**
   * Messages taken beyond the running one, so the next prompt is queued in ComfyUI (its
   * inputs uploaded) before the current one ends. A message no worker took waits in SQS
   * and costs nothing, so this stays small.
   */
  prefetch: int(0, 8).default(1),
  /** Timeout of each HTTP call to ComfyUI and S3, in ms. */
  requestTimeoutMs: int(1).default(30_000),
  /** Idle time after which the worker exits 0; null = never. */
  autoShutdownMs: msOrOff('auto-shutdown').default(null),
  /** Longest wait for ComfyUI to answer GET /system_stats at start; null = do not wait. */
  workerStartTimeoutMs: msOrOff('the start-up wait').default(120_000),
  comfyUrl: httpUrl('COMFYUI_URL').default('http://127.0.0.1:8188'),
  // Not parsed as a WHATWG URL: emulators hand out queue URLs (sqs.<region>.127.0.0.1) that
  // do not parse, and the SQS client never uses this as an endpoint.
  queueUrl: z.string({ error: (iss) => (iss.input === undefined ? 'is required (env GPU_QUEUE_URL)' : 'must be an http(s) URL') })
    .regex(/^https?:\/\/[^\s/]+\/\S+$/, { error: 'must be an http(s) queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)' }),
  artifactsBucket: z.string({ error: (iss) => (iss.input === undefined ? 'is required (env ARTIFACTS_BUCKET)' : 'must be a string') }).min(3, { error: 'must be a bucket name' }),
  /** SQS long-poll wait (SQS allows up to 20); at least 1 so an empty queue never spins the loop. */
  pollWaitSeconds: int(1, 20).default(QUEUES.gpu.receiveWaitSeconds),
  /**
   * The lease on a held message: its SQS visibility and its attempt claim, both renewed
   * every third of it. A dead worker's attempt runs again elsewhere within about this long.
   */
  visibilityTimeoutSeconds: int(2, 43_200).default(DEFAULT_LEASE_SECONDS),
  /**
   * SendTaskHeartbeat period. Nothing times out on it; its answer is how a closed task
   * (execution stopped, answered elsewhere) is noticed, so it stays a few seconds.
   */
  heartbeatIntervalMs: int(1).default(5000),
  /**
   * Stall detection: a running prompt with no progress for longer than
   * max(stallFloorMs, stallFactor × its longest step interval so far) is interrupted and
   * fails as Gpu.Timeout; before its first progress message the bound is stallFirstProgressMs.
   */
  stallFactor: z.preprocess(numberish, z.number({ error: 'must be a number' }).min(1, { error: 'must be ≥ 1' })).default(10),
  stallFloorMs: int(1).default(60_000),
  /** From the prompt's start (or its last event) to its first progress message: model loads live here. */
  stallFirstProgressMs: int(1).default(300_000),
  /**
   * The worker's own deadline when the message names none. Inside the task's
   * TimeoutSeconds, so Gpu.Timeout (resumable) arrives before States.Timeout.
   */
  generationTimeoutMs: int(1).default(Math.round(GPU_TASK.timeoutSeconds * 0.9 * 1000)),
  /**
   * The checkpoint a new worker loads with a warm-up prompt before it takes any message
   * (worker/warmup.ts), so the first job does not pay the model load; null / "off": no warm-up.
   */
  warmupModel: z.preprocess(
    (v) => (typeof v === 'string' && ['', 'off', 'null', 'none'].includes(v.trim().toLowerCase()) ? null : v),
    z.string({ error: 'must be a checkpoint file name, or "off"' }).min(1).max(256).nullable(),
  ).default(null),
  /** On SIGTERM, how long in-flight jobs may run before they are released. */
  shutdownGraceMs: int(0).default(25_000),
  /** Port of /metrics and /healthz; 0 picks a free port. */
  metricsPort: int(0, 65_535).default(9464),
  metricsHost: z.string().min(1).default('127.0.0.1'),
  workerId: z.string().min(1).max(128).regex(/^[\w.:@-]+$/, { error: 'may hold only letters, digits and . _ : @ -' })
    .default(`${hostname()}-${process.pid}`),
  /** GET /history/{id} period: the safety net under the WebSocket, and the fallback when it is gone. */
  historyPollMs: int(1).default(2000),
  /** Reconnect tries after each WebSocket drop before relying on /history alone. */
  wsReconnectAttempts: int(0, 100).default(5),
  wsReconnectDelayMs: int(0).default(1000),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be one of debug, info, warn, error, silent' })
    .default('info'),
  /** Extra classifier patterns (core/classifier.ts), tried before the built-in rules. */
  classifierPatterns: customPatternsSchema.default([]),
  /**
   * This host's circuit breaker (`comfyui#<host:port>`, core/breaker.ts), kept in the control
   * table (VTO_BREAKER_* settings). While it is open the worker takes no messages and gives
   * back the ones it holds, so the other hosts run them. Needs controlTable.
   */
  circuitBreaker: onOff.default(true),
  /** The name of this host in its breaker key when COMFYUI_URL is a loopback address. @default the machine's hostname */
  hostId: z.string().min(1).max(128).regex(/^[\w.:@-]+$/, { error: 'may hold only letters, digits and . _ : @ -' }).default(hostname()),
  /** The control table holding the breakers (CONTROL_TABLE). */
  controlTable: z.string().min(3, { error: 'must be a table name' }).optional(),
});

export type WorkerConfig = z.output<typeof workerConfigSchema>;
export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
type Field = keyof WorkerConfig;

/** Environment variable → field. Empty variables count as unset. */
export const ENV_VARS = {
  VTO_PREFETCH: 'prefetch',
  VTO_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  VTO_AUTO_SHUTDOWN_MS: 'autoShutdownMs',
  VTO_WORKER_START_TIMEOUT_MS: 'workerStartTimeoutMs',
  COMFYUI_URL: 'comfyUrl',
  GPU_QUEUE_URL: 'queueUrl',
  ARTIFACTS_BUCKET: 'artifactsBucket',
  VTO_POLL_WAIT_SECONDS: 'pollWaitSeconds',
  VTO_VISIBILITY_TIMEOUT_SECONDS: 'visibilityTimeoutSeconds',
  VTO_HEARTBEAT_INTERVAL_MS: 'heartbeatIntervalMs',
  VTO_STALL_FACTOR: 'stallFactor',
  VTO_STALL_FLOOR_MS: 'stallFloorMs',
  VTO_STALL_FIRST_PROGRESS_MS: 'stallFirstProgressMs',
  VTO_GENERATION_TIMEOUT_MS: 'generationTimeoutMs',
  VTO_SHUTDOWN_GRACE_MS: 'shutdownGraceMs',
  VTO_WARMUP_MODEL: 'warmupModel',
  VTO_METRICS_PORT: 'metricsPort',
  VTO_METRICS_HOST: 'metricsHost',
  VTO_WORKER_ID: 'workerId',
  VTO_HISTORY_POLL_MS: 'historyPollMs',
  VTO_WS_RECONNECT_ATTEMPTS: 'wsReconnectAttempts',
  VTO_WS_RECONNECT_DELAY_MS: 'wsReconnectDelayMs',
  VTO_LOG_LEVEL: 'logLevel',
  VTO_CIRCUIT_BREAKER: 'circuitBreaker',
  VTO_HOST_ID: 'hostId',
  CONTROL_TABLE: 'controlTable',
} as const satisfies Record<string, Field>;

export const CONFIG_PATH_ENV = 'VTO_WORKER_CONFIG';

/** Settings that no longer exist, with what replaced them: said loudly rather than ignored. */
const REMOVED_ENV: Readonly<Record<string, string>> = {
  VTO_POOL_SIZE: 'VTO_POOL_SIZE was removed: a worker runs one prompt and takes VTO_PREFETCH more (default 1); tasks wait in SQS, not in workers',
  VTO_CIRCUIT_BREAKER_WAIT_MS: 'VTO_CIRCUIT_BREAKER_WAIT_MS was removed: a worker whose host breaker is open gives its tasks back to the other hosts at once',
};

export interface LoadConfigOptions {
  /** JSON file; falls back to env VTO_WORKER_CONFIG; none = defaults and environment only. */
  readonly configPath?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Highest precedence (CLI flags, test overrides). */
  readonly overrides?: Readonly<Record<string, unknown>>;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new WorkerConfigError([`config file ${path} cannot be read: ${(e as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WorkerConfigError([`config file ${path} is not valid JSON: ${(e as Error).message}`]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WorkerConfigError([`config file ${path} must hold a JSON object of settings`]);
  }
  return parsed as Record<string, unknown>;
}

/** Builds the worker's configuration from its layers; throws WorkerConfigError listing every problem. */
export function loadWorkerConfig(options: LoadConfigOptions = {}): WorkerConfig {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = {};
  const source = new Map<string, string>();

  const path = options.configPath ?? (env[CONFIG_PATH_ENV] || undefined);
  if (path !== undefined) {
    for (const [k, v] of Object.entries(readConfigFile(path))) {
      raw[k] = v;
      source.set(k, `config file ${path}`);
    }
  }
  for (const [name, field] of Object.entries(ENV_VARS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    raw[field] = v;
    source.set(field, `env ${name}`);
  }
  for (const [k, v] of Object.entries(options.overrides ?? {})) {
    if (v === undefined) continue;
    raw[k] = v;
    source.set(k, 'override');
  }

  const removed = Object.keys(REMOVED_ENV).filter((name) => (env[name] ?? '') !== '').map((name) => REMOVED_ENV[name] as string);
  const result = workerConfigSchema.safeParse(raw);
  if (result.success && removed.length === 0) return result.data;
  if (result.success) throw new WorkerConfigError(removed);
  throw new WorkerConfigError([...removed, ...result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (known: ${Object.keys(workerConfigSchema.shape).join(', ')})`;
    }
    // The message as every settings reader words it (core/settings.ts), and where the value came from.
    const field = String(issue.path[0] ?? '(root)');
    const from = source.get(field);
    const got = from === undefined ? 'not set' : `got ${JSON.stringify(raw[field])} from ${from}`;
    return `${describeIssue(issue)} (${got})`;
  })]);
}
