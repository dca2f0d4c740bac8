/**
 * IAM for the whole offline stack: enforcement in this process (the Lambda handlers, the
 * API, the watchdog and the reconciler run here, each `asPrincipal`), and what a GPU worker
 * child needs to enforce it in its own process as the GpuWorker principal.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IAM_ENV, enforceIam, type Denial, type Enforcement } from './enforce.ts';
import { GPU_WORKER_PRINCIPAL, loadPolicies } from './policies.ts';
import type { Place } from './requests.ts';

const PRELOAD = fileURLToPath(new URL('./worker-preload.ts', import.meta.url));

export interface OfflineIam {
  readonly enforcement: Enforcement;
  /** Added to a GPU worker child's environment. */
  readonly workerEnv: Readonly<Record<string, string>>;
  /** Node options for a GPU worker child (before its script). */
  readonly workerExecArgv: readonly string[];
  /** Every refusal so far, this process's and the workers'. */
  denials(): Denial[];
  stop(): void;
}

export async function startOfflineIam(place: Place): Promise<OfflineIam> {
  const policies = await loadPolicies();
  const dir = mkdtempSync(join(tmpdir(), 'vto-iam-'));
  const policiesFile = join(dir, 'policies.json');
  const denialsFile = join(dir, 'worker-denials.jsonl');
  writeFileSync(policiesFile, JSON.stringify(policies));
  const enforcement = enforceIam({ policies, ...place });
  return {
    enforcement,
    workerEnv: {
      [IAM_ENV.policiesFile]: policiesFile,
      [IAM_ENV.principal]: GPU_WORKER_PRINCIPAL,
      [IAM_ENV.denialsFile]: denialsFile,
      [IAM_ENV.account]: place.account,
    },
    workerExecArgv: ['--import', PRELOAD],
    denials() {
      const children = existsSync(denialsFile)
        ? readFileSync(denialsFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Denial)
        : [];
      return [...enforcement.denials(), ...children];
    },
    stop() {
      enforcement.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
