/** Packs made through the API the way a caller makes them: upload, then create. */
import { expect } from 'vitest';
import type { ApiWorld } from './world.ts';

export const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

export interface Uploaded {
  readonly packId: string;
  readonly jobs: { person: string; garment: string }[];
}

/** Reserves a pack id and uploads a person and a garment image per job with the pre-signed URLs. */
export async function uploadImages(world: ApiWorld, jobs: number, image: Buffer = PNG): Promise<Uploaded> {
  const files = Array.from({ length: jobs }, (_, i) => [
    { name: `person-${i}.png`, contentType: 'image/png', size: image.length },
    { name: `garment-${i}.png`, contentType: 'image/png', size: image.length },
  ]).flat();
  const res = await world.call('POST', '/uploads', { body: { files } });
  expect(res.status, res.text).toBe(200);
  const answer = res.body as unknown as { packId: string; files: { name: string; key: string; url: string; headers: Record<string, string> }[] };
  for (const f of answer.files) {
    const put = await fetch(f.url, { method: 'PUT', headers: f.headers, body: new Uint8Array(image) });
    expect(put.status, await put.text()).toBe(200);
  }
  const key = (name: string) => answer.files.find((f) => f.name === name)!.key;
  return { packId: answer.packId, jobs: Array.from({ length: jobs }, (_, i) => ({ person: key(`person-${i}.png`), garment: key(`garment-${i}.png`) })) };
}

export const packBody = (u: Uploaded, over: Record<string, unknown> = {}) => ({
  name: 'spring catalogue',
  packId: u.packId,
  pipeline: { inpaint: 'comfyui' },
  jobs: u.jobs,
  ...over,
});
