/**
 * What a GPU worker host may call on AWS: the union of what the agent's parts declare. The
 * stack publishes it as a managed policy to attach to the GPU hosts' role (lib/grants.ts),
 * and the offline stack runs its workers under it (local/iam/).
 */
import { access } from '../adapters/access.ts';
import { ATTEMPT_CLAIMS_ACCESS } from '../adapters/attempt-claims.ts';
import { BREAKER_STORE_ACCESS } from '../adapters/breaker-store.ts';
import { TAUGHT_PATTERNS_ACCESS } from '../adapters/taught-patterns.ts';
import { WORKER_PRESENCE_ACCESS } from '../adapters/worker-presence.ts';
import { JOB_RUNNER_ACCESS } from './job-runner.ts';
import { TASK_ANSWER_ACCESS } from './task-answer.ts';
import { GPU_QUEUE_ACCESS } from './worker.ts';

/** bin/worker.ts wires the attempt claims and the fleet's ComfyUI breaker on the control table; the agent reads the taught classifier patterns there. */
export const GPU_WORKER_ACCESS = access(GPU_QUEUE_ACCESS, JOB_RUNNER_ACCESS, TASK_ANSWER_ACCESS, ATTEMPT_CLAIMS_ACCESS, BREAKER_STORE_ACCESS, WORKER_PRESENCE_ACCESS, TAUGHT_PATTERNS_ACCESS.read);
