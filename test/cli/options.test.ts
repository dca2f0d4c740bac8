/** What the CLI checks before it sends anything: ids, --since, inpaint parameters, the jobs of a submit, image files. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors.ts';
import { checkId, jobsFromOptions, parseParams, parseSince, workersOption } from '../../cli/options.ts';
import { planUploads, sniffImageType, uploadName } from '../../cli/uploads.ts';

const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('ids', () => {
  it('accepts a lowercase UUID and refuses anything else, naming what was expected', () => {
    expect(checkId('pack', '0b7c9a52-4bd4-4c34-8f8e-3f4a2c9b8d11')).toBe('0b7c9a52-4bd4-4c34-8f8e-3f4a2c9b8d11');
    expect(usage(() => checkId('job', 'abc'))).toBe('abc: not a job id (a lowercase UUID, as `vto packs list` shows)');
  });
});

describe('npm start --workers', () => {
  it.each([
    ['2', { min: 2, max: 2 }], ['0..4', { min: 0, max: 4 }], ['1..1', { min: 1, max: 1 }], [' 1 .. 3 ', { min: 1, max: 3 }],
  ])('reads %j as %j', (v, want) => {
    expect(workersOption(v)).toEqual(want);
  });
  it.each([
    ['0', '--workers: the maximum must be from 1 to 16; got 0'],
    ['0..0', '--workers: the maximum must be from 1 to 16; got 0'],
    ['1..17', '--workers: the maximum must be from 1 to 16; got 17'],
    ['4..2', '--workers: the minimum (4) must not exceed the maximum (2)'],
    ['two', '--workers must be a whole number N (a fixed fleet) or a range MIN..MAX such as 0..4 (autoscaled); got "two"'],
    ['1-4', '--workers must be a whole number N (a fixed fleet) or a range MIN..MAX such as 0..4 (autoscaled); got "1-4"'],
  ])('refuses %j naming --workers', (v, message) => {
    expect(() => workersOption(v)).toThrow(message);
  });
});

describe('--since', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  it.each([
    ['90m', '2025-06-01T10:30:00.000Z'], ['6h', '2025-06-01T06:00:00.000Z'], ['7d', '2025-05-25T12:00:00.000Z'],
    ['1w', '2025-05-25T12:00:00.000Z'], ['2025-05-31T08:00:00Z', '2025-05-31T08:00:00.000Z'], ['2025-05-31T10:00:00+02:00', '2025-05-31T08:00:00.000Z'],
  ])('reads %s as %s', (v, iso) => {
    expect(parseSince(v, now)).toBe(iso);
  });

  it.each(['yesterday', '5y', '', '12'])('refuses %j with the forms it takes', (v) => {
    expect(usage(() => parseSince(v, now))).toContain('give a time (2025-06-01T08:00:00Z) or a span back from now (90m, 6h, 7d, 1w)');
  });
});

describe('inpaint parameters', () => {
  it('reads numbers as numbers and names as text; --param overrides --params', () => {
    expect(parseParams(['steps=25', 'model=sd15-inpaint.safetensors'], '{"steps": 40, "batch": 1}')).toEqual({ steps: 25, batch: 1, model: 'sd15-inpaint.safetensors' });
    expect(parseParams([])).toBeUndefined();
  });

  it.each([
    { pairs: ['steps=9999'], message: 'steps: Too big' },
    { pairs: ['width=1004'], message: 'width: must be a multiple of 8' },
    { pairs: ['colour=red'], message: 'colour: not a parameter' },
    { pairs: ['steps'], message: '--param steps: expected key=value' },
  ])('refuses $pairs naming the parameter', ({ pairs, message }) => {
    expect(usage(() => parseParams(pairs))).toContain(message);
  });

  it('refuses --params that is not a JSON object', () => {
    expect(usage(() => parseParams([], '[1]'))).toContain('--params: expected a JSON object');
    expect(usage(() => parseParams([], '{'))).toContain('--params: not valid JSON');
  });
});

describe('the jobs of a submit', () => {
  it('tries each person in each garment', () => {
    expect(jobsFromOptions({ person: ['p1', 'p2'], garment: ['g1', 'g2'] })).toEqual([
      { person: 'p1', garment: 'g1' }, { person: 'p1', garment: 'g2' }, { person: 'p2', garment: 'g1' }, { person: 'p2', garment: 'g2' },
    ]);
  });

  it('reads a manifest with paths relative to its folder and per-job params', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vto-manifest-'));
    mkdirSync(join(dir, 'img'));
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify([{ person: 'img/p.png', garment: '/abs/g.png', params: { steps: 20 } }]));
    expect(jobsFromOptions({ person: [], garment: [], manifest: join(dir, 'jobs.json') })).toEqual([
      { person: join(dir, 'img/p.png'), garment: '/abs/g.png', params: { steps: 20 } },
    ]);
  });

  it.each([
    { o: { person: [], garment: [] }, message: 'no jobs: give at least one --person FILE and one --garment FILE' },
    { o: { person: ['p'], garment: [] }, message: 'no jobs' },
    { o: { person: ['p'], garment: ['g'], manifest: 'm.json' }, message: 'either with --manifest or with --person/--garment' },
    { o: { person: Array.from({ length: 40 }, (_, i) => `p${i}`), garment: Array.from({ length: 30 }, (_, i) => `g${i}`) }, message: '40 persons × 30 garments make 1200 jobs; a pack holds at most 1000' },
  ])('refuses $message', ({ o, message }) => {
    expect(usage(() => jobsFromOptions(o))).toContain(message);
  });

  it('names each bad entry of a manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vto-manifest-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify([{ person: 'p.png' }, { person: 'p', garment: 'g', params: { steps: 1 } }]));
    const message = usage(() => jobsFromOptions({ person: [], garment: [], manifest: join(dir, 'bad.json') }));
    expect(message).toContain('[0].garment');
    expect(message).toContain('[1].params.steps');
  });
});

describe('image files', () => {
  it.each([
    [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
    [[0xff, 0xd8, 0xff, 0xe0], 'image/jpeg'],
    [[...Buffer.from('RIFF\0\0\0\0WEBP')], 'image/webp'],
    [[...Buffer.from('GIF89a')], undefined],
  ])('tells the type by the first bytes: %j is %s', (bytes, type) => {
    expect(sniffImageType(Uint8Array.from(bytes))).toBe(type);
  });

  it('names uploads with what POST /uploads accepts, unique by position', () => {
    expect(uploadName(3, '/x/my photo (1).PNG')).toBe('3-my_photo_1_.PNG');
    expect(uploadName(0, `/x/${'a'.repeat(300)}.png`)).toHaveLength(128);
  });

  it('checks each distinct file once and refuses what is not an image, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vto-img-'));
    const png = join(dir, 'a.png');
    writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const plan = await planUploads([png, png, join(dir, '.', 'a.png')]);
    expect(plan).toEqual([{ path: png, name: '0-a.png', contentType: 'image/png', size: 7 }]);
    await expect(planUploads([join(dir, 'notes.txt')])).rejects.toThrow(`${join(dir, 'notes.txt')}: not a PNG, JPEG or WebP image`);
    await expect(planUploads([join(dir, 'missing.png')])).rejects.toThrow('cannot read the file (ENOENT)');
  });
});
