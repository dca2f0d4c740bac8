/**
 * The offline S3 (fauxqs behind local/s3-versioning.ts) versions and tags objects of the
 * versioned artifacts bucket as S3 does, checked with the real SDK.
 */
import {
  DeleteObjectCommand, DeleteObjectsCommand, DeleteObjectTaggingCommand, GetBucketVersioningCommand, GetObjectCommand,
  GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand,
  PutObjectTaggingCommand, S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionFresh } from '../support/aws.ts';

let s3: S3Client;
let Bucket: string;

beforeAll(async () => {
  const p = await provisionFresh();
  Bucket = p.buckets.artifacts;
  s3 = new S3Client({ forcePathStyle: true });
});
afterAll(() => s3.destroy());

const body = async (Key: string, VersionId?: string) =>
  (await (await s3.send(new GetObjectCommand({ Bucket, Key, ...(VersionId && { VersionId }) }))).Body!.transformToString());

describe('offline S3 versioning', () => {
  it('is enabled on the provisioned bucket', async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled');
  });

  it('keeps every version and delete marker, lists them newest first, and removes them one by one', async () => {
    // Prepare
    const Key = 'v/a.txt';
    const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'one', ContentType: 'text/plain' }))).VersionId!;
    const v2 = (await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'two!' }))).VersionId!;
    const del = await s3.send(new DeleteObjectCommand({ Bucket, Key }));

    // Act
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'v/' }));

    // Assess
    expect(v1).not.toBe(v2);
    expect(del.DeleteMarker).toBe(true);
    expect(listed.DeleteMarkers?.map((m) => [m.Key, m.VersionId, m.IsLatest])).toEqual([[Key, del.VersionId, true]]);
    expect(listed.Versions?.map((v) => [v.VersionId, v.IsLatest, v.Size])).toEqual([[v2, false, 4], [v1, false, 3]]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'v/' }))).KeyCount).toBe(0);
    expect(await body(Key, v1)).toBe('one');

    // Removing the delete marker brings v2 back; removing v2 brings v1 back.
    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: del.VersionId! }));
    expect(await body(Key)).toBe('two!');
    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: v2 }));
    expect(await body(Key)).toBe('one');
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).VersionId).toBe(v1);
    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: v1 }));
    expect((await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'v/' }))).Versions).toBeUndefined();
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it('pages ListObjectVersions with key and version markers, and DeleteObjects removes versions and adds markers', async () => {
    // Prepare: 3 keys × 2 versions
    for (const k of ['p/1', 'p/2', 'p/3']) for (const b of ['x', 'y']) await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: b }));

    // Act
    const seen: { Key: string; VersionId: string }[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'p/', MaxKeys: 4, KeyMarker, VersionIdMarker }));
      pages++;
      seen.push(...(page.Versions ?? []).map((v) => ({ Key: v.Key!, VersionId: v.VersionId! })));
      KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (KeyMarker);
    const markers = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'p/1' }] } }));
    const removed = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: seen } }));
    const left = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'p/' }));

    // Assess
    expect(pages).toBe(2);
    expect(seen.map((s) => s.Key)).toEqual(['p/1', 'p/1', 'p/2', 'p/2', 'p/3', 'p/3']);
    expect(new Set(seen.map((s) => s.VersionId)).size).toBe(6);
    expect(markers.Deleted?.[0]).toMatchObject({ Key: 'p/1', DeleteMarker: true });
    expect(removed.Deleted).toHaveLength(6);
    expect(left.Versions).toBeUndefined();
    expect(left.DeleteMarkers?.map((m) => m.VersionId)).toEqual([markers.Deleted?.[0]?.DeleteMarkerVersionId]);
  });
});

describe('offline S3 tagging', () => {
  it('sets tags on PUT, reads, replaces and deletes them without touching the object', async () => {
    // Prepare
    const Key = 't/a.txt';
    const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'data', Tagging: 'vto:upload=unclaimed&b=2' }));

    // Act
    const first = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
    await s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: [{ Key: 'vto:upload', Value: 'claimed' }] } }));
    const second = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
    await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key }));
    const third = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));

    // Assess
    expect(first.VersionId).toBe(put.VersionId);
    expect(first.TagSet).toEqual([{ Key: 'vto:upload', Value: 'unclaimed' }, { Key: 'b', Value: '2' }]);
    expect(second.TagSet).toEqual([{ Key: 'vto:upload', Value: 'claimed' }]);
    expect(third.TagSet ?? []).toEqual([]);
    expect(await body(Key)).toBe('data');
  });

  it('keeps tags with their version', async () => {
    const Key = 't/b.txt';
    const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key, Body: '1', Tagging: 'n=1' }))).VersionId!;
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: '2' }));

    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet ?? []).toEqual([]);
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key, VersionId: v1 }))).TagSet).toEqual([{ Key: 'n', Value: '1' }]);
  });

  it('tags a presigned PUT that signs x-amz-tagging, and refuses one that drops the signed header', async () => {
    // Prepare
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 't/up.png', ContentType: 'image/png', Tagging: 'vto:upload=unclaimed' }), {
      expiresIn: 60, signableHeaders: new Set(['content-type', 'x-amz-tagging']), unhoistableHeaders: new Set(['x-amz-tagging']),
    });

    // Act
    const dropped = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: 'img' });
    const sent = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png', 'x-amz-tagging': 'vto:upload=unclaimed' }, body: 'img' });

    // Assess
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('x-amz-tagging');
    expect(dropped.status).toBe(403);
    expect(await dropped.text()).toContain('SignatureDoesNotMatch');
    expect(sent.status).toBe(200);
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't/up.png' }))).TagSet).toEqual([{ Key: 'vto:upload', Value: 'unclaimed' }]);
  });

  it('answers NoSuchKey for the tags of a deleted object', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 't/gone', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 't/gone' }));

    await expect(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't/gone' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});
