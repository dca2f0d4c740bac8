/**
 * Uploaded input images: pre-signed PUT URLs with Content-Type and Content-Length signed
 * (S3 refuses a PUT whose type or size differs), and the existence check POST /packs makes.
 */
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3Keys } from '../../core/resources.ts';
import { s3Client } from '../adapters/aws-clients.ts';
import { config } from '../adapters/config.ts';
import { mapLimit } from './map-limit.ts';
import { access, grant } from '../adapters/access.ts';

/** Pre-signed PUTs are signed by the API's role, so it must itself be allowed to put them. */
export const UPLOADS_STORE_ACCESS = access(
  grant('objects:artifacts/packs/*/uploads/*', 's3', 'PutObject', 'GetObject'), grant('bucket:artifacts', 's3', 'ListBucket'),
);

/** Headers the presigned PUT signs; the uploader must send them exactly. */
export const SIGNED_UPLOAD_HEADERS = ['content-type', 'content-length'] as const;

export async function presignUpload(key: string, contentType: string, size: number, expiresIn: number): Promise<{ url: string; headers: Record<string, string> }> {
  const url = await getSignedUrl(
    s3Client(),
    new PutObjectCommand({ Bucket: config().bucket, Key: key, ContentType: contentType, ContentLength: size }),
    { expiresIn, signableHeaders: new Set(SIGNED_UPLOAD_HEADERS) },
  );
  return { url, headers: { 'content-type': contentType, 'content-length': String(size) } };
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
  const present = new Map<string, StoredUpload>();
  let token: string | undefined;
  do {
    const res = await s3Client().send(new ListObjectsV2Command({
      Bucket: bucket, Prefix: s3Keys.upload(packId, ''), ...(token && { ContinuationToken: token }),
    }), { abortSignal: AbortSignal.timeout(10_000) });
    for (const o of res.Contents ?? []) if (o.Key) present.set(o.Key, { size: o.Size ?? 0 });
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return new Map(unique.flatMap((k) => { const u = present.get(k); return u ? [[k, u] as const] : []; }));
}
