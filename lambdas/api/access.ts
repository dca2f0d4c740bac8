/**
 * What the API function may call on AWS: the union of what its modules declare beside their
 * calls, and the job-store groups its operations use. lib/api.ts grants exactly this.
 */
import { access } from '../../adapters/access.ts';
import { JOB_STORE_ACCESS } from '../../adapters/job-store.ts';
import { BREAKER_READ_ACCESS } from '../../adapters/breaker-store.ts';
import { FLEET_STATE_ACCESS } from '../../adapters/fleet-state.ts';
import { LIFECYCLE_EVENTS_ACCESS } from '../../adapters/lifecycle-events.ts';
import { PACK_ERASURE_ACCESS } from '../../adapters/pack-erasure.ts';
import { CLASSIFIER_PATTERNS_ACCESS } from './classifier-patterns.ts';
import { CLEANUP_ACCESS } from './cleanup.ts';
import { EXECUTIONS_ACCESS } from './executions.ts';
import { HEALTH_ACCESS } from './health.ts';
import { IDEMPOTENCY_ACCESS } from './idempotency.ts';
import { API_STORE_ACCESS } from './store.ts';
import { UPLOADS_STORE_ACCESS } from './uploads-store.ts';
import { VIEWS_ACCESS } from './views.ts';

const { readJob, readJobs, jobsByStatus, writeJob, jobsOfPack, readPack, writePack, createPack, readFlag, writeFlag } = JOB_STORE_ACCESS;

export const API_ACCESS = access(
  API_STORE_ACCESS, UPLOADS_STORE_ACCESS, CLEANUP_ACCESS, EXECUTIONS_ACCESS, HEALTH_ACCESS, IDEMPOTENCY_ACCESS, VIEWS_ACCESS,
  // GET /health reads the breakers; the API never trips them.
  BREAKER_READ_ACCESS, FLEET_STATE_ACCESS, LIFECYCLE_EVENTS_ACCESS,
  // DELETE /packs/{id} erases what it can within the request; the watchdog the rest.
  PACK_ERASURE_ACCESS,
  // Operators teach the classifier; with recorded=rerun, deferred recovery runs for the jobs reclassified.
  CLASSIFIER_PATTERNS_ACCESS,
  readJob, readJobs, jobsByStatus, writeJob, jobsOfPack, readPack, writePack, createPack, readFlag, writeFlag,
);
