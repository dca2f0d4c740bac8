/**
 * `vto packs submit`: local image files to a running pack. Checks everything it can
 * before sending anything, uploads the images through pre-signed URLs, then creates the
 * pack with an Idempotency-Key so a retry after a lost answer cannot create it twice.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { PartialParams } from '../core/params.ts';
import type { PackCreated } from '../lambdas/api/schemas.ts';
import type { ApiClient } from './api-client.ts';
import { ApiRefusal, NoAnswerError, UnreachableError } from './errors.ts';
import type { LocalJob } from './options.ts';
import { planUploads, uploadImages } from './uploads.ts';

export interface SubmitRequest {
  readonly name: string;
  readonly inpaint: 'comfyui' | 'hosted';
  /** For every job; a manifest job's own params override them. */
  readonly params?: PartialParams;
  readonly jobs: readonly LocalJob[];
  /** @default a new UUID */
  readonly idempotencyKey?: string;
}

export interface SubmitOptions {
  /** Per image PUT. */
  readonly uploadTimeoutMs: number;
  readonly note?: (line: string) => void;
  /** Attempts of POST /packs when the answer is lost (same Idempotency-Key). @default 3 */
  readonly attempts?: number;
}

/** Worth sending again with the same key: no answer, a dropped connection, a 5xx other than the emergency stop. */
const retriable = (e: unknown) =>
  e instanceof NoAnswerError || e instanceof UnreachableError ||
  (e instanceof ApiRefusal && (e.status === 429 || (e.status >= 500 && e.code !== 'EmergencyStopped')));

/** `client` is asked for only once the files have passed their checks (bad files are bad usage, whatever the target). */
export async function submitPack(client: () => ApiClient, req: SubmitRequest, o: SubmitOptions): Promise<PackCreated> {
  const note = o.note ?? (() => undefined);
  const images = await planUploads(req.jobs.flatMap((j) => [j.person, j.garment]));
  const api = client();
  note(`uploading ${images.length} image${images.length === 1 ? '' : 's'} (${Math.ceil(images.reduce((n, i) => n + i.size, 0) / 1024)} KiB)…`);
  const uploaded = await uploadImages(api, images, { timeoutMs: o.uploadTimeoutMs });
  const key = (path: string) => {
    const k = uploaded.keys.get(resolve(path));
    if (k === undefined) throw new Error(`${path} was not uploaded`);
    return k;
  };
  const body = {
    name: req.name,
    packId: uploaded.packId,
    pipeline: { inpaint: req.inpaint, ...(req.params !== undefined && { params: req.params }) },
    jobs: req.jobs.map((j) => ({ person: key(j.person), garment: key(j.garment), ...(j.params !== undefined && { params: j.params }) })),
  };
  const idempotencyKey = req.idempotencyKey ?? randomUUID();
  const attempts = o.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.call('createPack', { body, headers: { 'idempotency-key': idempotencyKey } });
    } catch (e) {
      if (attempt >= attempts || !retriable(e)) throw e;
      note(`POST /packs: ${(e as Error).message.split('\n')[0]}; sending again with the same Idempotency-Key (${attempt + 1}/${attempts})`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  }
}
