/**
 * Every object under a key prefix of the artifacts bucket, through ListObjectsV2's own
 * paginator. One abort signal bounds the whole listing, however many pages it takes.
 */
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { access, grant } from './access.ts';
import { s3Client } from './aws-clients.ts';
import { config } from './config.ts';

/** Listing is a bucket-level action (s3:ListBucket), whatever the prefix. */
export const OBJECT_LISTING_ACCESS = access(grant('bucket:artifacts', 's3', 'ListBucket'));

export interface ListedObject {
  readonly key: string;
  readonly size: number;
}

export async function objectsUnder(prefix: string, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<ListedObject[]> {
  const found: ListedObject[] = [];
  const pages = paginateListObjectsV2({ client: s3Client() }, { Bucket: config().bucket, Prefix: prefix }, { abortSignal: AbortSignal.timeout(timeoutMs) });
  for await (const page of pages) {
    for (const o of page.Contents ?? []) if (o.Key !== undefined) found.push({ key: o.Key, size: o.Size ?? 0 });
  }
  return found;
}
