/**
 * Local image files into the pipeline's upload area: each file is checked here (exists,
 * is a PNG, JPEG or WebP by its first bytes, not too large), given a name POST /uploads
 * accepts, then PUT to its pre-signed URL with exactly the headers that were signed.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES } from '../lambdas/api/limits.ts';
import type { ApiClient } from './api-client.ts';
import { networkFailure } from './api-client.ts';
import { UploadError, UsageError } from './errors.ts';

export interface LocalImage {
  /** Absolute path. */
  readonly path: string;
  /** The name it is uploaded under: unique within the pack. */
  readonly name: string;
  readonly contentType: 'image/png' | 'image/jpeg' | 'image/webp';
  readonly size: number;
}

/** The image type from the file's first bytes, whatever its extension says. */
export function sniffImageType(head: Uint8Array): LocalImage['contentType'] | undefined {
  const at = (i: number) => head[i];
  if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) return 'image/png';
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'image/jpeg';
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/** `7-my_photo.png` from `/x/my photo.png`: POST /uploads accepts [A-Za-z0-9._-], 128 at most. */
export function uploadName(index: number, path: string): string {
  const safe = basename(path).replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${index}-${safe}`.slice(0, 128);
}

/** Checks every distinct file once; the order of first appearance names them. */
export async function planUploads(paths: readonly string[]): Promise<LocalImage[]> {
  const distinct = [...new Set(paths.map((p) => resolve(p)))];
  return Promise.all(distinct.map(async (path, i): Promise<LocalImage> => {
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new UsageError(`${path}: not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (size === 0) throw new UsageError(`${path}: the file is empty`);
    if (size > MAX_UPLOAD_BYTES) throw new UsageError(`${path}: ${size} bytes; the API accepts images of at most ${MAX_UPLOAD_BYTES} bytes`);
    const fh = await open(path, 'r');
    const head = new Uint8Array(12);
    try {
      await fh.read(head, 0, 12, 0);
    } finally {
      await fh.close();
    }
    const contentType = sniffImageType(head);
    if (contentType === undefined) throw new UsageError(`${path}: not a PNG, JPEG or WebP image`);
    return { path, name: uploadName(i, path), contentType, size };
  }));
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export interface UploadResult {
  readonly packId: string;
  /** Upload key by absolute path. */
  readonly keys: ReadonlyMap<string, string>;
}

/**
 * Reserves a pack id with POST /uploads (in chunks the API accepts) and PUTs each file to
 * its URL, a few at a time. `onUploaded` is told of each file done.
 */
export async function uploadImages(client: ApiClient, images: readonly LocalImage[], o: { timeoutMs: number; concurrency?: number; onUploaded?: (image: LocalImage) => void }): Promise<UploadResult> {
  const keys = new Map<string, string>();
  let packId: string | undefined;
  for (let from = 0; from < images.length; from += MAX_UPLOAD_FILES) {
    const chunk = images.slice(from, from + MAX_UPLOAD_FILES);
    const reserved = await client.call('createUploads', {
      body: { ...(packId !== undefined && { packId }), files: chunk.map((f) => ({ name: f.name, contentType: f.contentType, size: f.size })) },
    });
    packId = reserved.packId;
    const byName = new Map(reserved.files.map((f) => [f.name, f]));
    await eachLimited(chunk, o.concurrency ?? 4, async (image) => {
      const target = byName.get(image.name);
      if (target === undefined) throw new UploadError(`POST /uploads gave no URL for ${image.name}`);
      const body = await readFile(image.path);
      let res: Response;
      try {
        res = await fetch(target.url, { method: target.method, headers: target.headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
      } catch (e) {
        throw networkFailure(e, { url: new URL(target.url).origin, offline: client.target.offline, timeoutMs: o.timeoutMs });
      }
      if (!res.ok) {
        const text = (await res.text()).slice(0, 300);
        throw new UploadError(`uploading ${image.path} failed: the storage answered ${res.status}${text === '' ? '' : `: ${text}`}`);
      }
      await res.body?.cancel();
      keys.set(image.path, target.key);
      o.onUploaded?.(image);
    });
  }
  if (packId === undefined) throw new UsageError('no images to upload');
  return { packId, keys };
}
