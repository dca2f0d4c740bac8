/** Images, masks and outputs in the artifacts bucket. */
import { GetObjectCommand, NoSuchKey, PutObjectCommand } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../core/errors.ts';
import { s3Client } from './aws-clients.ts';
import { config } from './config.ts';
import { access, grant } from './access.ts';

/**
 * getObject needs ListBucket too: without it S3 answers a missing key with 403 AccessDenied,
 * not 404 NoSuchKey, and a missing input would read as a permission fault.
 */
export const ARTIFACTS_READ_ACCESS = access(grant('objects:artifacts/packs/*', 's3', 'GetObject'), grant('bucket:artifacts', 's3', 'ListBucket'));
export const ARTIFACTS_WRITE_ACCESS = access(grant('objects:artifacts/packs/*', 's3', 'PutObject'));

export async function getObject(key: string): Promise<Buffer> {
  try {
    const res = await s3Client().send(new GetObjectCommand({ Bucket: config().bucket, Key: key }));
    if (!res.Body) throw new InvalidInputError(`s3://${config().bucket}/${key} is empty`);
    return Buffer.from(await res.Body.transformToByteArray());
  } catch (e) {
    // A missing input never appears by retrying: the job needs a person.
    if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') {
      throw new InvalidInputError(`s3://${config().bucket}/${key} does not exist`, { cause: e });
    }
    throw e;
  }
}

export async function putObject(key: string, body: Buffer, contentType = 'image/png'): Promise<string> {
  await s3Client().send(new PutObjectCommand({ Bucket: config().bucket, Key: key, Body: body, ContentType: contentType }));
  return key;
}
