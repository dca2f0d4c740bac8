/** How packs, jobs and a pack's end read for people, and when a followed pack has ended. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { emptyCounts } from '../../core/status.ts';
import type { JobView, PackView } from '../../lambdas/api/schemas.ts';
import { lineDisplay } from '../../cli/progress.ts';
import { recoveryLine, renderJob } from '../../cli/render-jobs.ts';
import { renderPackEnd, renderPackList } from '../../cli/render-packs.ts';
import { packEnded } from '../../cli/watch.ts';

const at = '2025-06-01T12:00:00.000Z';
const pack = (over: Partial<PackView> = {}): PackView => ({
  packId: 'p-1', name: 'n', status: 'running', createdAt: at, updatedAt: at, inpaint: 'comfyui', jobCount: 2, runs: 1,
  counts: { ...emptyCounts(), complete: 1, inpainting: 1 }, progress: { done: 1, total: 2, percent: 50 }, ...over,
});
const recovery = { at, error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS', fn: 'GPU', stage: 'inpaint', attempt: 1, detail: 'batch 2→1', outcome: 'recovered', resolvedAt: at } as const;

describe('a followed pack', () => {
  it.each([
    { p: pack(), ended: false },
    { p: pack({ status: 'complete', progress: { done: 2, total: 2, percent: 100 } }), ended: true },
    { p: pack({ status: 'completed_with_failures', progress: { done: 1, total: 2, percent: 50 } }), ended: false },
    { p: pack({ status: 'stopped' }), ended: true },
  ])('has ended: $ended when $p.status with $p.progress.done of 2 done', ({ p, ended }) => {
    expect(packEnded(p)).toBe(ended);
  });

  it('ends with its status and counts', () => {
    expect(renderPackEnd(pack({ status: 'completed_with_failures', counts: { ...emptyCounts(), complete: 1, failed: 1 } }))).toBe('pack p-1 completed_with_failures (complete 1, failed 1)');
  });

  it('prints a line per change when not on a terminal, not per poll', () => {
    const lines: string[] = [];
    const d = lineDisplay({ write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream, () => new Date(at));
    d.update({ pack: pack(), failures: 0, recovered: 0 });
    d.update({ pack: pack(), failures: 0, recovered: 0 });
    d.log(recoveryLine('abcdef0123', recovery));
    d.update({ pack: pack(), failures: 1, recovered: 1 });
    expect(lines).toEqual([
      '[12:00:00] running 1/2 | inpainting 1, complete 1 | failures 0, recovered 0\n',
      '[12:00:00] ✓ abcdef01  Gpu.OutOfMemory → REDUCE_PARAMS (batch 2→1)  [recovered]\n',
      '[12:00:00] running 1/2 | inpainting 1, complete 1 | failures 1, recovered 1\n',
    ]);
  });
});

describe('lists and jobs', () => {
  it('says how to create a pack when there is none', () => {
    expect(renderPackList({ items: [] })).toBe('no packs yet: create one with `vto packs submit`');
  });

  it('points at the next page', () => {
    expect(renderPackList({ items: [pack()], nextCursor: 'abc' }, new Date(at))).toMatch(/\n\nmore: vto packs list --cursor abc$/);
  });

  it('shows what recovery changed in the parameters beside their original values, and the recovery path', () => {
    const job: JobView = {
      jobId: 'j-1', packId: 'p-1', status: 'complete', createdAt: at, updatedAt: at, inpaint: 'comfyui',
      inputs: { person: 'packs/p/uploads/a.png', garment: 'packs/p/uploads/b.png' },
      params: { ...DEFAULT_PARAMS, batch: 1 }, originalParams: DEFAULT_PARAMS,
      runs: 1, recoveriesUsed: 1, needsIntervention: false, attempts: {}, triedModels: [], checkpoints: {},
      recoveries: [recovery], recoveryCount: 1, outputs: {},
      inputLinks: { person: { key: 'packs/p/uploads/a.png', url: 'http://s3/a' }, garment: { key: 'packs/p/uploads/b.png', url: 'http://s3/b' } },
    };
    const out = renderJob(job, new Date(at));
    expect(out).toContain('batch=1 (was 2)');
    expect(out).toMatch(/\nrecovery path\n/);
    // A job whose oldest entries were dropped says how many it met in all.
    expect(renderJob({ ...job, recoveryCount: 45 }, new Date(at))).toContain('recovery path (the newest 1 of 45; all are in `vto stats`)');
    expect(out).toContain('steps=30,');
    expect(out).toMatch(/recovery path\nAT\s+ERROR\s+STRATEGY\s+STAGE\s+ATTEMPT\s+OUTCOME\s+DETAIL\n2025-06-01 12:00:00Z\s+Gpu\.OutOfMemory\s+REDUCE_PARAMS\s+inpaint\s+1\s+recovered\s+batch 2→1/);
  });
});
