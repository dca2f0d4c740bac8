/**
 * Named fault profiles for the simulated services, decided by a seed.
 *
 * A fault is a pure function of (profile, seed, service, key, callIndex): the simulators
 * decide before a call is served, from the job's key and how many calls that key has made,
 * never from what the pipeline did. Two runs with the same seed meet the same faults.
 *
 * Decision rule: each kind of a service's profile "hits" a key when a 32-bit hash of
 * (seed, service, key, kind) falls under the kind's rate. The kinds that hit form the key's
 * schedule, in catalog order with permanent kinds last: the first hit kind answers the
 * key's first `calls` calls (default 1), the next kind the following ones, and so on. A
 * bounded retry therefore recovers from every finite fault, and a permanent one
 * (`calls: Infinity`) answers every later call.
 *
 * Not every failure is injected: the simulated ComfyUI fails by physics too. Out-of-memory
 * comes from the job's parameters against the VRAM budget (e.g. 1536×1536, batch 4 on a
 * 24 GiB card), and a missing model from a `model` that is not in the installed list. The
 * demo pack sets those parameters on a few jobs (PHYSICS_FAULT_PARAMS in
 * local/comfyui/physics.ts) instead of relying on this module.
 */
import type { ErrorName } from '../core/taxonomy.ts';

export const SERVICES = ['comfyui', 'segmentation', 'analyzer', 'hosted'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const FAULT_KINDS = {
  comfyui: ['http503', 'hang', 'truncatedOutput', 'wsDrop', 'crash', 'blackOutput', 'diskFull'],
  segmentation: ['http503', 'http429', 'malformed', 'htmlError', 'slow', 'degenerate'],
  analyzer: ['http503', 'http429', 'malformed', 'htmlError', 'slow', 'reject'],
  hosted: ['http503', 'http429', 'malformed', 'htmlError', 'slow'],
} as const satisfies Record<ServiceName, readonly string[]>;

export type FaultKindOf<S extends ServiceName> = (typeof FAULT_KINDS)[S][number];
export type FaultKind = FaultKindOf<ServiceName>;
export type ComfyFaultKind = FaultKindOf<'comfyui'>;
export type ProviderService = Exclude<ServiceName, 'comfyui'>;

export interface FaultRule {
  /** Share of keys this kind hits, 0..1. */
  readonly rate: number;
  /** Calls of a hit key that meet the fault (default 1); Infinity for permanent faults. */
  readonly calls?: number;
}

export type ServiceFaults<S extends ServiceName> = { readonly [K in FaultKindOf<S>]?: FaultRule };

export interface FaultProfile {
  readonly name: string;
  readonly description: string;
  readonly faults: { readonly [S in ServiceName]?: ServiceFaults<S> };
  /** A whole service down for this many simulated minutes (FaultInjector.outage; the runner decides when it starts and scales it). */
  readonly outage?: { readonly service: ServiceName; readonly simulatedMinutes: number };
}

export interface FaultInfo {
  readonly description: string;
  /** The taxonomy name the pipeline should give the failure; null when the client is expected to absorb it. */
  readonly expected: ErrorName | null;
}

/** What each fault does and how the pipeline is expected to name it (benchmarks score against this). */
export const FAULT_CATALOG: { readonly [S in ServiceName]: { readonly [K in FaultKindOf<S>]: FaultInfo } } = {
  comfyui: {
    http503: { description: 'POST /prompt answers 503 (a proxy in front of a busy or restarting ComfyUI)', expected: 'Transient.ServiceUnavailable' },
    hang: { description: 'the sampler makes no progress until POST /interrupt', expected: 'Gpu.Timeout' },
    wsDrop: { description: "the server drops the client's WebSocket mid-run; the run still completes and /history has it", expected: null },
    crash: { description: 'ComfyUI dies mid-run (child process: exits 137; in-process: every socket closed, no answers until restart())', expected: 'Transient.Network' },
    blackOutput: { description: 'VAEDecode yields an all-black image (the fp16 VAE NaN failure); QA must reject it', expected: 'Qa.Rejected' },
    truncatedOutput: { description: 'SaveImage writes only half of the PNG, and the run still succeeds; compositing cannot decode it', expected: 'Compositing.Failed' },
    diskFull: { description: 'SaveImage fails with OSError "[Errno 28] No space left on device"', expected: 'Fatal.DiskFull' },
  },
  segmentation: {
    http503: { description: '503 with a JSON error body', expected: 'Transient.ServiceUnavailable' },
    http429: { description: '429 with Retry-After', expected: 'Transient.RateLimited' },
    malformed: { description: 'truncated JSON or JSON that breaks the response schema', expected: 'Provider.MalformedResponse' },
    htmlError: { description: "a load balancer's 502 HTML page", expected: 'Transient.ServiceUnavailable' },
    slow: { description: 'answers after slowMs, longer than a client timeout', expected: 'Transient.Network' },
    degenerate: { description: 'an empty or full-frame mask', expected: 'Segmentation.DegenerateMask' },
  },
  analyzer: {
    http503: { description: '503 with a JSON error body', expected: 'Transient.ServiceUnavailable' },
    http429: { description: '429 with Retry-After', expected: 'Transient.RateLimited' },
    malformed: { description: 'truncated JSON or JSON that breaks the response schema', expected: 'Provider.MalformedResponse' },
    htmlError: { description: "a load balancer's 502 HTML page", expected: 'Transient.ServiceUnavailable' },
    slow: { description: 'answers after slowMs, longer than a client timeout', expected: 'Transient.Network' },
    reject: { description: "verdict 'fail'", expected: 'Qa.Rejected' },
  },
  hosted: {
    http503: { description: '503 with a JSON error body', expected: 'Transient.ServiceUnavailable' },
    http429: { description: '429 with Retry-After', expected: 'Transient.RateLimited' },
    malformed: { description: 'truncated JSON or JSON that breaks the response schema', expected: 'Provider.MalformedResponse' },
    htmlError: { description: "a load balancer's 502 HTML page", expected: 'Transient.ServiceUnavailable' },
    slow: { description: 'answers after slowMs, longer than a client timeout', expected: 'Transient.Network' },
  },
};

const PERMANENT = Infinity;

const PROFILES = {
  none: { name: 'none', description: 'No injected faults (physics still apply).', faults: {} },
  // Rates tuned for a pack of 24 jobs: with DEFAULT_FAULT_SEED and job ids job-01..job-24 every
  // kind below appears; with random job ids every recoverable family appears in ~96% of packs
  // and a full disk in ~92% (measured over 2,000 random packs).
  default: {
    name: 'default',
    description:
      'The demo: in a pack of ~24 jobs every recoverable family appears and at least one job meets a fatal full disk. ' +
      'Out-of-memory and missing models come from job parameters (physics), not from this profile.',
    faults: {
      comfyui: {
        http503: { rate: 0.12 },
        hang: { rate: 0.15 },
        wsDrop: { rate: 0.08 },
        blackOutput: { rate: 0.1 },
        truncatedOutput: { rate: 0.15 },
        diskFull: { rate: 0.1, calls: PERMANENT },
      },
      // degenerate × 3: the whole first pass of three prompts is unusable, so the vote fails
      // and the job re-segments with alternative prompts.
      segmentation: { http503: { rate: 0.1 }, http429: { rate: 0.08 }, degenerate: { rate: 0.18, calls: 3 } },
      analyzer: { malformed: { rate: 0.18 }, htmlError: { rate: 0.1 }, reject: { rate: 0.1 } },
      hosted: { http503: { rate: 0.12 }, malformed: { rate: 0.1 } },
    },
  },
  chaos: {
    name: 'chaos',
    description: 'More of everything, plus hangs, dropped WebSockets, crashes and slow providers.',
    faults: {
      comfyui: {
        http503: { rate: 0.2, calls: 2 },
        hang: { rate: 0.15 },
        wsDrop: { rate: 0.2 },
        crash: { rate: 0.08 },
        blackOutput: { rate: 0.12 },
        diskFull: { rate: 0.05, calls: PERMANENT },
      },
      segmentation: {
        http503: { rate: 0.2, calls: 2 }, http429: { rate: 0.15 }, malformed: { rate: 0.12 },
        htmlError: { rate: 0.1 }, slow: { rate: 0.08 }, degenerate: { rate: 0.2 },
      },
      analyzer: {
        http503: { rate: 0.15 }, http429: { rate: 0.15, calls: 2 }, malformed: { rate: 0.2 },
        htmlError: { rate: 0.1 }, slow: { rate: 0.08 }, reject: { rate: 0.15 },
      },
      hosted: {
        http503: { rate: 0.2, calls: 2 }, http429: { rate: 0.15 }, malformed: { rate: 0.12 },
        htmlError: { rate: 0.1 }, slow: { rate: 0.08 },
      },
    },
  },
  'flaky-providers': {
    name: 'flaky-providers',
    description: 'Only the providers fail, and only transiently: 503, 429, malformed bodies and HTML error pages.',
    faults: {
      segmentation: { http503: { rate: 0.15 }, http429: { rate: 0.1 }, malformed: { rate: 0.1 }, htmlError: { rate: 0.08 } },
      analyzer: { http503: { rate: 0.15 }, http429: { rate: 0.1 }, malformed: { rate: 0.15 }, htmlError: { rate: 0.08 } },
      hosted: { http503: { rate: 0.15 }, http429: { rate: 0.1 }, malformed: { rate: 0.1 }, htmlError: { rate: 0.08 } },
    },
  },
  outage: {
    name: 'outage',
    // 30 minutes: an open breaker's waiters alone retry for ~9 simulated minutes (Transient.CircuitOpen).
    description: 'The analyzer is down (every call and its health check answer 503) for 30 simulated minutes from the first job that reaches QA, '
      + 'far longer than the in-run retries; jobs that reach QA meanwhile fail, and deferred recovery brings them back once it is up '
      + '(npm run bench:recovery -- --profile outage).',
    faults: {},
    outage: { service: 'analyzer', simulatedMinutes: 30 },
  },
} as const satisfies Record<string, FaultProfile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];
/** The seed the offline runtime uses when none is given. */
export const DEFAULT_FAULT_SEED = 7;

export class UnknownFaultProfileError extends Error {
  override readonly name = 'UnknownFaultProfileError';
}

export function getProfile(name: string): FaultProfile {
  if (Object.hasOwn(PROFILES, name)) return PROFILES[name as ProfileName];
  throw new UnknownFaultProfileError(`Unknown fault profile '${name}'. Known profiles: ${PROFILE_NAMES.join(', ')}.`);
}

/** A profile given by name or as an object (tests build their own). */
export function resolveProfile(profile: string | FaultProfile | undefined): FaultProfile {
  if (profile === undefined) return PROFILES.none;
  return typeof profile === 'string' ? getProfile(profile) : profile;
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer so nearby inputs spread. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) fixed by the parts. */
export function unitHash(...parts: readonly (string | number)[]): number {
  return hash32(parts.join('\u241f')) / 2 ** 32;
}

/** Seeded PRNG (mulberry32): a function returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function rulesOf<S extends ServiceName>(profile: FaultProfile, service: S): [FaultKindOf<S>, FaultRule][] {
  const table = (profile.faults[service] ?? {}) as Partial<Record<FaultKindOf<S>, FaultRule>>;
  const kinds = FAULT_KINDS[service] as readonly FaultKindOf<S>[];
  return kinds.flatMap((k) => {
    const rule = table[k];
    return rule === undefined ? [] : [[k, rule] as [FaultKindOf<S>, FaultRule]];
  });
}

/** The kinds that hit `key`, in the order they are served (permanent kinds last). */
export function drawnFaults<S extends ServiceName>(profile: FaultProfile, seed: number, service: S, key: string): FaultKindOf<S>[] {
  const hits = rulesOf(profile, service).filter(([kind, rule]) => unitHash(seed, service, key, kind) < rule.rate);
  const finite = hits.filter(([, r]) => Number.isFinite(r.calls ?? 1));
  const permanent = hits.filter(([, r]) => !Number.isFinite(r.calls ?? 1));
  return [...finite, ...permanent].map(([k]) => k);
}

/** The fault the call number `callIndex` (0-based) of `key` meets, or null. Pure. */
export function decideFault<S extends ServiceName>(
  profile: FaultProfile, seed: number, service: S, key: string, callIndex: number,
): FaultKindOf<S> | null {
  const rules = new Map(rulesOf(profile, service));
  let start = 0;
  for (const kind of drawnFaults(profile, seed, service, key)) {
    const calls = rules.get(kind)?.calls ?? 1;
    if (callIndex < start + calls) return kind;
    start += calls;
  }
  return null;
}

export interface FaultInjector {
  readonly profile: FaultProfile;
  readonly seed: number;
  /** Decides the fault of the next call of (service, key) and counts the call. */
  next<S extends ServiceName>(service: S, key: string): FaultKindOf<S> | null;
  /** Forces `kind` on the next `calls` calls of (service, key), before the profile decides; null clears. */
  force<S extends ServiceName>(service: S, key: string, kind: FaultKindOf<S> | null, calls?: number): void;
  /** Faults served so far, per "service.kind". */
  injected(): Record<string, number>;
  /** Calls counted so far per (service, key), to carry across a process restart. */
  counts(): Record<string, number>;
  /**
   * Takes a whole service down until `untilMs` (epoch ms; Infinity: until cleared), or brings
   * it back (null): every call answers 503, and its health check too (an outage, not a fault
   * of one key). Decided by the clock, so it outlasts any count of retries.
   */
  outage(service: ServiceName, untilMs: number | null): void;
  /** Whether the service is down at `now`. */
  isDown(service: ServiceName, now?: number): boolean;
  reset(): void;
}

/** The stateful side the simulators share: call counters per (service, key) around decideFault. */
export function createFaultInjector(
  profile: string | FaultProfile | undefined,
  seed: number = DEFAULT_FAULT_SEED,
  initialCounts: Readonly<Record<string, number>> = {},
): FaultInjector {
  const resolved = resolveProfile(profile);
  const counts = new Map<string, number>(Object.entries(initialCounts));
  const forced = new Map<string, { kind: FaultKind; left: number }>();
  const served = new Map<string, number>();
  const down = new Map<ServiceName, number>();
  const isDown = (service: ServiceName, now = Date.now()) => now < (down.get(service) ?? Number.NEGATIVE_INFINITY);
  return {
    profile: resolved,
    seed,
    next(service, key) {
      const id = `${service}\u241f${key}`;
      const callIndex = counts.get(id) ?? 0;
      counts.set(id, callIndex + 1);
      let kind: FaultKind | null;
      const f = forced.get(id);
      if (isDown(service)) {
        kind = 'http503';
      } else if (f !== undefined && f.left > 0) {
        f.left -= 1;
        kind = f.kind;
      } else {
        kind = decideFault(resolved, seed, service, key, callIndex);
      }
      if (kind !== null) served.set(`${service}.${kind}`, (served.get(`${service}.${kind}`) ?? 0) + 1);
      return kind as FaultKindOf<typeof service> | null;
    },
    force(service, key, kind, calls = 1) {
      const id = `${service}\u241f${key}`;
      if (kind === null) forced.delete(id);
      else forced.set(id, { kind, left: calls });
    },
    injected: () => Object.fromEntries(served),
    counts: () => Object.fromEntries(counts),
    outage(service, untilMs) {
      if (untilMs === null) down.delete(service);
      else down.set(service, untilMs);
    },
    isDown,
    reset() {
      down.clear();
      counts.clear();
      forced.clear();
      served.clear();
    },
  };
}
