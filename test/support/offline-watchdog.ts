/**
 * The offline stack the watchdog, reconciler and breaker tests share: one stack per file,
 * started before its tests with the environment they set and stopped after them, and a
 * pack of one job written as the API writes it.
 */
import { randomUUID } from 'node:crypto';
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll } from 'vitest';
import { newJobRecord, newPackRecord, type JobRecord, type PackRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { s3Keys } from '../../core/resources.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { putPackWithJobs } from '../../adapters/job-store.ts';
import { startOfflineStack, type OfflineStack, type StackOptions } from '../../local/stack.ts';
import { garmentImage, personImage } from './images.ts';

export interface OfflineWatchdogWorld {
  readonly stack: OfflineStack;
  readonly sfn: SFNClient;
}

/**
 * Starts the stack (one GPU worker, no faults, time scale 0.05 unless `options` says
 * otherwise) in beforeAll with `env` set, and stops it in afterAll with `env` removed.
 * `prefix` keeps the file's resources apart from other files'.
 */
export function useOfflineWatchdogStack(prefix: string, options: StackOptions = {}, env: Record<string, string> = {}, startTimeoutMs = 120_000): OfflineWatchdogWorld {
  let stack: OfflineStack | undefined;
  let sfn: SFNClient | undefined;
  beforeAll(async () => {
    Object.assign(process.env, env);
    stack = await startOfflineStack({ timeScale: 0.05, workers: 1, profile: 'none', ...options, prefix: `${prefix}${randomUUID().slice(0, 6)}` });
    sfn = new SFNClient({});
  }, startTimeoutMs);
  afterAll(async () => {
    sfn?.destroy();
    await stack?.stop();
    for (const name of Object.keys(env)) delete process.env[name];
  }, 60_000);
  return {
    get stack() { if (!stack) throw new Error('the offline stack is not started yet'); return stack; },
    get sfn() { if (!sfn) throw new Error('the offline stack is not started yet'); return sfn; },
  };
}

/** A pack of one job (a 256×256 person and garment uploaded), written as the API writes them; `job` and `pack` shape the items. */
export async function seedOneJobPack(name: string, o: { pack?: Partial<PackRecord>; job?: (j: JobRecord) => Partial<JobRecord> } = {}): Promise<{ pack: PackRecord; job: JobRecord }> {
  const packId = randomUUID();
  const now = new Date().toISOString();
  const person = await putObject(s3Keys.upload(packId, 'person.png'), await personImage(256, 256));
  const garment = await putObject(s3Keys.upload(packId, 'garment.png'), await garmentImage(256, 256, [30, 90, 200]));
  const base = newJobRecord({ packId, jobId: randomUUID(), inpaint: 'comfyui', inputs: { person, garment }, params: { ...DEFAULT_PARAMS, width: 512, height: 512, steps: 20 }, now });
  const job = { ...base, ...o.job?.(base) };
  const pack = { ...newPackRecord({ packId, name, inpaint: 'comfyui', jobCount: 1, now }), ...o.pack };
  await putPackWithJobs(pack, [job]);
  return { pack, job };
}
