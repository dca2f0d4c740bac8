/**
 * POST /uploads: reserve a pack id (or use the one given) and hand out pre-signed PUT
 * URLs under packs/{packId}/uploads/. Each key gets a random prefix, so a URL can never
 * overwrite another upload, and no upload lands in a pack that already exists.
 */
import { randomUUID } from 'node:crypto';
import { s3Keys } from '../../core/resources.ts';
import { findPack } from './store.ts';
import { conflict } from './errors.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { apiSettings } from './settings.ts';
import { presignUpload } from './uploads-store.ts';

const PRESIGN_CONCURRENCY = 32;

export const createUploads: Operation<'createUploads'> = async (req) => {
  const packId = req.body.packId ?? randomUUID();
  if (req.body.packId !== undefined && (await findPack(packId)) !== undefined) {
    throw conflict('PackExists', `Pack ${packId} already exists; its inputs cannot change. Upload without packId to reserve a new pack id`);
  }
  const ttl = apiSettings().uploadUrlTtlSeconds;
  const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
  const files = await mapLimit(req.body.files, PRESIGN_CONCURRENCY, async (f) => {
    const key = s3Keys.upload(packId, `${randomUUID().slice(0, 8)}-${f.name}`);
    const { url, headers } = await presignUpload(key, f.contentType, f.size, ttl);
    return { name: f.name, key, url, method: 'PUT' as const, headers };
  });
  return { status: 200, body: { packId, expiresAt, files } };
};
