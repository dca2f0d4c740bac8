/**
 * Uploaded input images: pre-signed PUT URLs with Content-Type, Content-Length and the
 * unclaimed tag signed (S3 refuses a PUT whose type or size differs, or that drops the tag),
 * the existence check POST /packs makes, and the claim that removes the tag.
 */
import { DeleteObjectTaggingCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3Keys, UNCLAIMED_UPLOAD_TAG } from '../../core/resources.ts';
import { s3Client } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { OBJECT_LISTING_ACCESS, objectsUnder } from '../../adapters/object-listing.ts';
import { mapLimit } from './map-limit.ts';
import { access, grant } from '../../adapters/access.ts';

/**
 * Pre-signed PUTs are signed by the API's role, so it must itself be allowed to put them,
 * with their tag (a PUT with x-amz-tagging needs s3:PutObjectTagging too); a created pack
 * removes the tag from its uploads.
 */
export const UPLOADS_STORE_ACCESS = access(
  grant('objects:artifacts/packs/*/uploads/*', 's3', 'PutObject', 'PutObjectTagging', 'DeleteObjectTagging', 'GetObject'), OBJECT_LISTING_ACCESS,
);

/** Headers the presigned PUT signs; the uploader must send them exactly. */
export const SIGNED_UPLOAD_HEADERS = ['content-type', 'content-length', 'x-amz-tagging'] as const;

/** The x-amz-tagging value of an upload no pack has claimed. */
export const UNCLAIMED_TAGGING = new URLSearchParams({ [UNCLAIMED_UPLOAD_TAG.key]: UNCLAIMED_UPLOAD_TAG.value }).toString();

export async function presignUpload(key: string, contentType: string, size: number, expiresIn: number): Promise<{ url: string; headers: Record<string, string> }> {
  const url = await getSignedUrl(
    s3Client(),
    new PutObjectCommand({ Bucket: config().bucket, Key: key, ContentType: contentType, ContentLength: size, Tagging: UNCLAIMED_TAGGING }),
    // Kept a header, not hoisted into the query: signed, so the uploader cannot drop the tag.
    { expiresIn, signableHeaders: new Set(SIGNED_UPLOAD_HEADERS), unhoistableHeaders: new Set(['x-amz-tagging']) },
  );
  return { url, headers: { 'content-type': contentType, 'content-length': String(size), 'x-amz-tagging': UNCLAIMED_TAGGING } };
}

const CLAIM_CONCURRENCY = 8;

/** Removes the unclaimed tag from a created pack's uploads, so the lifecycle rule keeps them. */
export async function claimUploads(keys: readonly string[]): Promise<void> {
  const bucket = config().bucket;
  await mapLimit([...new Set(keys)], CLAIM_CONCURRENCY, (key) =>
    s3Client().send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(5000) }));
}

/** Up to this many keys are checked one by one (HeadObject); more, by listing the pack's upload prefix. */
const HEAD_LIMIT = 16;
const HEAD_CONCURRENCY = 8;

export interface StoredUpload {
  readonly size: number;
  /** Known when the object was checked one by one (HeadObject); a listing does not say. */
  readonly contentType?: string;
}

/**
 * Which of `keys` (all under the pack's upload prefix) exist, with their size and type.
 * S3 already refused uploads of another size or type than signed; the caller checks them
 * again, because S3-compatible emulators do not enforce signed headers.
 */
export async function existingUploads(packId: string, keys: readonly string[]): Promise<Map<string, StoredUpload>> {
  const unique = [...new Set(keys)];
  const bucket = config().bucket;
  if (unique.length <= HEAD_LIMIT) {
    const found = await mapLimit(unique, HEAD_CONCURRENCY, async (key) => {
      try {
        const head = await s3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(5000) });
        return [key, { size: head.ContentLength ?? 0, ...(head.ContentType !== undefined && { contentType: head.ContentType }) }] as const;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404 || (e as { name?: string }).name === 'NotFound') return undefined;
        throw e;
      }
    });
    return new Map(found.filter((f) => f !== undefined));
  }
  const present = new Map((await objectsUnder(s3Keys.upload(packId, ''), { timeoutMs: 10_000 })).map((o) => [o.key, { size: o.size }] as const));
  return new Map(unique.flatMap((k) => { const u = present.get(k); return u ? [[k, u] as const] : []; }));
}
