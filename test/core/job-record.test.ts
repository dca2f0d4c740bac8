/**
 * The job record schema (core/job.ts): an item written by an older version reads with
 * defaults, unknown attributes are left out, and an item that does not fit names the
 * field and the job instead of failing deep inside a handler.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { newJobRecord, parseJobRecord } from '../../core/job.ts';

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
