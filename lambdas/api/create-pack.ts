/** POST /packs: validate, write the pack and its jobs, start it, answer 202. */
import { randomUUID } from 'node:crypto';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { newJobRecord, newPackRecord } from '../../core/job.ts';
import { resolveParams, type PartialParams } from '../../core/params.ts';
import { s3Keys } from '../../core/resources.ts';
import { webhookUrlProblem } from '../../core/webhook.ts';
import { config } from '../../adapters/config.ts';
import { apiSettings } from './settings.ts';
import { badRequest, type Issue } from './errors.ts';
import { idempotent } from './idempotency.ts';
import { MAX_UPLOAD_BYTES, UPLOAD_CONTENT_TYPES } from './limits.ts';
import type { Operation } from './operation.ts';
import { launchPack } from './pack-launch.ts';
import type { CreatePackBody } from './schemas.ts';
import { claimUploads, existingUploads } from './uploads-store.ts';

const packOfKey = (key: string): string | undefined => /^packs\/([^/]+)\/uploads\//.exec(key)?.[1];

/** Checks what the schema cannot: one pack prefix for every key, and installed models. */
function semanticIssues(body: CreatePackBody, packId: string, installed: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  const prefix = s3Keys.upload(packId, '');
  body.jobs.forEach((job, i) => {
    for (const field of ['person', 'garment'] as const) {
      if (!job[field].startsWith(prefix)) {
        issues.push({ path: `body.jobs.${i}.${field}`, message: `must be an upload of this pack, under ${prefix}` });
      }
    }
  });
  const checkModel = (params: PartialParams | undefined, path: string) => {
    if (params?.model !== undefined && !installed.includes(params.model)) {
      issues.push({ path, message: `is not an installed model; installed: ${installed.join(', ')}` });
    }
  };
  checkModel(body.pipeline.params, 'body.pipeline.params.model');
  if (body.webhook !== undefined) {
    const problem = webhookUrlProblem(body.webhook.url, { allowLoopbackHttp: apiSettings().webhookAllowLoopback });
    if (problem !== undefined) issues.push({ path: 'body.webhook.url', message: problem });
  }
  body.jobs.forEach((job, i) => checkModel(job.params, `body.jobs.${i}.params.model`));
  return issues;
}

/** Uploads that are missing, too large or not an image type. */
async function uploadIssues(body: CreatePackBody, packId: string): Promise<Issue[]> {
  const keys = body.jobs.flatMap((j) => [j.person, j.garment]);
  const present = await existingUploads(packId, keys);
  const issues: Issue[] = [];
  body.jobs.forEach((job, i) => {
    for (const field of ['person', 'garment'] as const) {
      const path = `body.jobs.${i}.${field}`;
      const u = present.get(job[field]);
      if (!u) issues.push({ path, message: 'does not exist: upload it first with a URL from POST /uploads' });
      else if (u.size > MAX_UPLOAD_BYTES) issues.push({ path, message: `is ${u.size} bytes; at most ${MAX_UPLOAD_BYTES} are accepted` });
      else if (u.contentType !== undefined && !(UPLOAD_CONTENT_TYPES as readonly string[]).includes(u.contentType.split(';')[0]!.trim().toLowerCase())) {
        issues.push({ path, message: `was uploaded as ${u.contentType.slice(0, 80)}; allowed: ${UPLOAD_CONTENT_TYPES.join(', ')}` });
      }
    }
  });
  return issues;
}

export const createPack: Operation<'createPack'> = async (req) => {
  const body = req.body;
  const { value, replayed } = await idempotent(
    { key: req.idempotencyKey, caller: req.caller, scope: 'createPack', payload: body as unknown as JSONValue, lambda: req.lambda },
    async () => {
      const packId = body.packId ?? packOfKey(body.jobs[0]!.person) ?? '';
      const shapeIssues = semanticIssues(body, packId, config().modelChain);
      if (shapeIssues.length > 0) throw badRequest('The pack is not valid', shapeIssues);
      const stored = await uploadIssues(body, packId);
      if (stored.length > 0) throw badRequest('Some images are missing or not acceptable', stored);

      const now = new Date().toISOString();
      const jobs = body.jobs.map((j) => newJobRecord({
        packId, jobId: randomUUID(), inpaint: body.pipeline.inpaint, inputs: { person: j.person, garment: j.garment },
        params: resolveParams(body.pipeline.params, j.params), now, gpuWaitMinutes: body.pipeline.gpuWaitMinutes,
      }));
      const pack = {
        ...newPackRecord({ packId, name: body.name, inpaint: body.pipeline.inpaint, jobCount: jobs.length, now, gpuWaitMinutes: body.pipeline.gpuWaitMinutes }),
        ...(body.webhook !== undefined && { webhook: { url: body.webhook.url, events: body.webhook.events ?? [] } }),
      };
      // Claimed before the launch: a pack must never run on inputs the lifecycle rule may expire.
      await claimUploads(body.jobs.flatMap((j) => [j.person, j.garment]));
      return launchPack(pack, jobs, req.baseUrl);
    },
  );
  return { status: 202, body: value, headers: { location: value.statusUrl, ...(replayed && { 'idempotent-replayed': 'true' }) } };
};
