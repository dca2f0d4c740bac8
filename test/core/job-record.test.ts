/**
 * The job and pack record schemas (core/job.ts): an item written by an older version reads with
 * defaults, unknown attributes are left out, and an item that does not fit names the
 * field and the record instead of failing deep inside a handler.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { newJobRecord, newPackRecord, parseJobRecord, parsePackRecord } from '../../core/job.ts';

const NOW = '2026-01-01T00:00:00.000Z';
const fresh = () => newJobRecord({ packId: 'p1', jobId: 'j1', inpaint: 'comfyui', inputs: { person: 'a.png', garment: 'b.png' }, params: DEFAULT_PARAMS, now: NOW });

describe('parseJobRecord', () => {
  it('reads a record as newJobRecord writes it unchanged', () => {
    expect(parseJobRecord(fresh())).toEqual(fresh());
  });

  it('fills the fields a legacy item lacks with their defaults and drops attributes no version reads', () => {
    const { attempts: _a, recoveries: _r, recoveriesDropped: _d, runs: _n, outputs: _o, triedModels: _t, checkpoints: _c, recoveriesUsed: _u, ...legacy } = fresh();
    const job = parseJobRecord({ ...legacy, lastRecovery: 'backoff 4 s' });
    expect(job).toMatchObject({ attempts: {}, recoveries: [], recoveriesDropped: 0, runs: 0, outputs: {}, triedModels: [], checkpoints: {}, recoveriesUsed: 0 });
    expect(job).not.toHaveProperty('lastRecovery');
  });

  it('names the job and the field of an item that does not fit', () => {
    const bad = { ...fresh(), recoveries: [{ at: NOW, error: 'X', strategy: 'NOPE', fn: 'Compose', stage: null, attempt: 1, outcome: 'pending' }] };
    expect(() => parseJobRecord(bad)).toThrow(expect.objectContaining({ name: 'Fatal.DataCorruption', message: expect.stringMatching(/^job j1: .*recoveries\.0\.strategy/) }));
    expect(() => parseJobRecord({ ...fresh(), status: 'lost' })).toThrow(/job j1: .*status/);
    expect(() => parseJobRecord({ jobId: 7 })).toThrow(/job \(no jobId\): .*jobId/);
  });
});

const freshPack = () => newPackRecord({ packId: 'p1', name: 'pack', inpaint: 'comfyui', jobCount: 2, now: NOW });

describe('parsePackRecord', () => {
  it('reads a record as newPackRecord writes it unchanged', () => {
    expect(parsePackRecord(freshPack())).toEqual(freshPack());
  });

  it('fills the fields a legacy item lacks, counts a status it never counted as 0, and drops unknown attributes', () => {
    const { runs: _r, webhookFailureCount: _c, webhookFailures: _f, ...legacy } = freshPack();
    const pack = parsePackRecord({ ...legacy, counts: { complete: 2 }, webhook: { url: 'https://x/y' }, legacyField: 1 });
    expect(pack).toMatchObject({ runs: 0, webhookFailureCount: 0, webhookFailures: [], webhook: { url: 'https://x/y', events: [] } });
    expect(pack.counts).toMatchObject({ complete: 2, failed: 0, pending: 0, cancelled: 0 });
    expect(pack).not.toHaveProperty('legacyField');
  });

  it('names the pack and the field of an item that does not fit', () => {
    expect(() => parsePackRecord({ ...freshPack(), status: 'lost' })).toThrow(expect.objectContaining({ name: 'Fatal.DataCorruption', message: expect.stringMatching(/^pack p1: .*status/) }));
    expect(() => parsePackRecord({ ...freshPack(), webhook: { url: 'https://x', events: ['job.nope'] } })).toThrow(/pack p1: .*webhook\.events\.0/);
    expect(() => parsePackRecord({ ...freshPack(), kind: 'other' })).toThrow(/pack p1: .*kind/);
    expect(() => parsePackRecord({ packId: 7 })).toThrow(/pack \(no packId\): .*packId/);
  });
});
