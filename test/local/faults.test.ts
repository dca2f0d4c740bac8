import { describe, expect, it } from 'vitest';
import { entryFor } from '../../core/taxonomy.ts';
import {
  createFaultInjector, decideFault, DEFAULT_FAULT_SEED, drawnFaults, FAULT_CATALOG, FAULT_KINDS, getProfile, mulberry32,
  PROFILE_NAMES, SERVICES, type FaultProfile, type ServiceName,
} from '../../local/faults.ts';

const keys = (n: number, prefix = 'job-') => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);

const everyDecision = (profile: FaultProfile, seed: number, keyList: string[], calls = 3) =>
  SERVICES.flatMap((s) => keyList.flatMap((k) => Array.from({ length: calls }, (_, i) => decideFault(profile, seed, s, k, i))));

describe('fault decisions', () => {
  it('are the same for the same seed, whatever was asked before', () => {
    // Prepare
    const profile = getProfile('chaos');

    // Act
    const first = everyDecision(profile, 123, keys(50));
    everyDecision(profile, 999, keys(50, 'other-'));
    const again = everyDecision(profile, 123, keys(50));

    // Assess
    expect(again).toEqual(first);
    expect(first.some((k) => k !== null)).toBe(true);
  });

  it('differ between seeds', () => {
    const profile = getProfile('chaos');

    expect(everyDecision(profile, 1, keys(50))).not.toEqual(everyDecision(profile, 2, keys(50)));
  });

  it.each([
    ['comfyui', 'hang', 0.3],
    ['segmentation', 'degenerate', 0.1],
    ['analyzer', 'malformed', 0.5],
    ['hosted', 'http429', 0.05],
  ] as const)('hit about the share of keys the rate says (%s %s at %s)', (service, kind, rate) => {
    // Prepare
    const profile: FaultProfile = { name: 't', description: 't', faults: { [service]: { [kind]: { rate } } } };
    const many = keys(4000, 'k');

    // Act
    const hits = many.filter((k) => decideFault(profile, DEFAULT_FAULT_SEED, service, k, 0) === kind).length;

    // Assess
    expect(hits / many.length).toBeGreaterThan(rate - 0.03);
    expect(hits / many.length).toBeLessThan(rate + 0.03);
  });

  it('serve a finite fault on the first `calls` calls only, so a bounded retry recovers', () => {
    const profile: FaultProfile = { name: 't', description: 't', faults: { analyzer: { http503: { rate: 1, calls: 2 } } } };

    const decisions = [0, 1, 2, 3].map((i) => decideFault(profile, 5, 'analyzer', 'job-a', i));

    expect(decisions).toEqual(['http503', 'http503', null, null]);
  });

  it('serve every fault that hits a key one after another, a permanent one last and for good', () => {
    const profile: FaultProfile = {
      name: 't', description: 't',
      faults: { comfyui: { diskFull: { rate: 1, calls: Infinity }, http503: { rate: 1 }, hang: { rate: 1 } } },
    };

    const decisions = [0, 1, 2, 3, 50].map((i) => decideFault(profile, 5, 'comfyui', 'job-a', i));

    expect(drawnFaults(profile, 5, 'comfyui', 'job-a')).toEqual(['http503', 'hang', 'diskFull']);
    expect(decisions).toEqual(['http503', 'hang', 'diskFull', 'diskFull', 'diskFull']);
  });

  it("never serve a kind the service does not have, whatever the profile's rates", () => {
    const profile = getProfile('chaos');

    for (const service of SERVICES) {
      const allowed = new Set<string>(FAULT_KINDS[service]);
      for (const k of keys(200)) for (const kind of drawnFaults(profile, 3, service, k)) expect(allowed.has(kind)).toBe(true);
    }
  });
});

describe('the named profiles', () => {
  it('are listed, and an unknown name fails with the known ones', () => {
    expect(PROFILE_NAMES).toEqual(['none', 'default', 'chaos', 'flaky-providers', 'outage']);
    expect(() => getProfile('nope')).toThrow(/Unknown fault profile 'nope'. Known profiles: none, default, chaos, flaky-providers/);
  });

  it("'none' injects nothing", () => {
    expect(everyDecision(getProfile('none'), DEFAULT_FAULT_SEED, keys(100)).every((k) => k === null)).toBe(true);
  });

  it("'default' shows every kind it lists in a pack of 24 jobs with the default seed", () => {
    // Prepare
    const profile = getProfile('default');
    const promised = SERVICES.flatMap((s) => Object.keys(profile.faults[s] ?? {}).map((kind) => `${s}.${kind}`));

    // Act
    const seen = new Set(SERVICES.flatMap((s) => keys(24).flatMap((k) => drawnFaults(profile, DEFAULT_FAULT_SEED, s, k).map((kind) => `${s}.${kind}`))));

    // Assess
    expect(promised.filter((k) => !seen.has(k))).toEqual([]);
  });

  it("'default' meets every recoverable family and a fatal one, on the ComfyUI path", () => {
    const profile = getProfile('default');
    const services: ServiceName[] = ['comfyui', 'segmentation', 'analyzer'];

    const expected = new Set(services.flatMap((s) => keys(24).flatMap((k) =>
      drawnFaults(profile, DEFAULT_FAULT_SEED, s, k).map((kind) => (FAULT_CATALOG[s] as Record<string, { expected: string | null }>)[kind]!.expected))));
    const families = new Set([...expected].flatMap((n) => (n === null ? [] : [entryFor(n).family + (entryFor(n).recoverable ? '' : ':fatal')])));

    expect([...families].sort()).toEqual(['Compositing', 'Fatal:fatal', 'Gpu', 'Provider', 'Qa', 'Segmentation', 'Transient']);
  });

  it("'default' keeps its one permanent fault permanent and every other one finite", () => {
    const profile = getProfile('default');

    const rules = SERVICES.flatMap((s) => Object.entries(profile.faults[s] ?? {}).map(([kind, r]) => [`${s}.${kind}`, (r as { calls?: number }).calls ?? 1] as const));

    expect(rules.filter(([, calls]) => !Number.isFinite(calls)).map(([k]) => k)).toEqual(['comfyui.diskFull']);
  });

  it("'flaky-providers' only makes providers fail transiently", () => {
    const profile = getProfile('flaky-providers');

    const kinds = new Set(SERVICES.flatMap((s) => keys(300).flatMap((k) => drawnFaults(profile, 1, s, k).map((kind) => `${s}.${kind}`))));

    expect([...kinds].every((k) => /^(segmentation|analyzer|hosted)\.(http503|http429|malformed|htmlError)$/.test(k))).toBe(true);
  });

  it("'chaos' brings hangs, dropped sockets and crashes", () => {
    const seen = new Set(keys(100).flatMap((k) => drawnFaults(getProfile('chaos'), 1, 'comfyui', k)));

    expect([...seen]).toEqual(expect.arrayContaining(['hang', 'wsDrop', 'crash']));
  });
});

describe('the fault injector', () => {
  it('counts calls per service and job, so each job meets its own schedule', () => {
    const profile: FaultProfile = { name: 't', description: 't', faults: { segmentation: { http429: { rate: 1 } } } };
    const inj = createFaultInjector(profile, 1);

    const seq = [inj.next('segmentation', 'a'), inj.next('segmentation', 'b'), inj.next('segmentation', 'a'), inj.next('analyzer', 'a')];

    expect(seq).toEqual(['http429', 'http429', null, null]);
    expect(inj.injected()).toEqual({ 'segmentation.http429': 2 });
  });

  it('serves forced faults before the profile decides', () => {
    const inj = createFaultInjector('none', 1);
    inj.force('comfyui', 'job-x', 'hang', 2);

    const seq = [inj.next('comfyui', 'job-x'), inj.next('comfyui', 'job-x'), inj.next('comfyui', 'job-x')];

    expect(seq).toEqual(['hang', 'hang', null]);
  });

  it('picks up its counters after a restart, so a fault already served is not served again', () => {
    const profile: FaultProfile = { name: 't', description: 't', faults: { comfyui: { crash: { rate: 1 } } } };
    const before = createFaultInjector(profile, 1);
    expect(before.next('comfyui', 'job-1')).toBe('crash');

    const after = createFaultInjector(profile, 1, before.counts());

    expect(after.next('comfyui', 'job-1')).toBeNull();
  });
});

describe('mulberry32', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);

    const xs = Array.from({ length: 1000 }, () => a());

    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(990);
  });
});
