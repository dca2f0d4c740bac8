/**
 * The CLI's option values, checked before any request is sent: ids, durations, inpaint
 * parameters, and the jobs of a pack to submit. Every refusal is a UsageError (exit 2)
 * naming the option and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { partialParamsSchema, type PartialParams } from '../core/params.ts';
import { MAX_JOBS } from '../lambdas/api/limits.ts';
import { ID_PATTERN } from '../lambdas/api/schemas.ts';
import { formatPath } from './classify.ts';
import { UsageError } from './errors.ts';

/** A pack or job id argument: refused here rather than sent to get a 400. */
export function checkId(what: 'pack' | 'job', id: string): string {
  if (!ID_PATTERN.test(id)) throw new UsageError(`${id}: not a ${what} id (a lowercase UUID, as \`vto packs list\` shows)`);
  return id;
}

/** commander parser of `--timeout SECONDS` and the like: a positive number of seconds, as ms. */
export const secondsOption = (name: string, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`${name} must be a number of seconds in (0, ${max}]`);
  return Math.round(n * 1000);
};

/** commander parser of a whole number in [min, max]. */
export const intOption = (name: string, min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
};

/** commander parser of the offline time scale: real seconds per pipeline second, in (0, 1]. */
export const timeScaleOption = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('--time-scale must be a number in (0, 1] (1 = real time, 0.05 = 20× faster)');
  return n;
};

/** commander parser of `--retention-days D`: a positive number of days (fractions allowed). */
export const daysOption = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 36_500) throw new InvalidArgumentError(`${name} must be a number of days in (0, 36500]`);
  return n;
};

/** The GPU fleet's bounds of `npm start --workers`: `N` is a fixed fleet (N..N), `MIN..MAX` autoscales between them. */
export interface WorkerBounds {
  readonly min: number;
  readonly max: number;
}

/** commander parser of `--workers N` or `--workers MIN..MAX` (0 ≤ MIN ≤ MAX, 1 ≤ MAX ≤ 16). */
export const workersOption = (v: string): WorkerBounds => {
  const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(v);
  if (m === null) throw new InvalidArgumentError(`--workers must be a whole number N (a fixed fleet) or a range MIN..MAX such as 0..4 (autoscaled); got "${v}"`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (max < 1 || max > 16) throw new InvalidArgumentError(`--workers: the maximum must be from 1 to 16; got ${max}`);
  if (min > max) throw new InvalidArgumentError(`--workers: the minimum (${min}) must not exceed the maximum (${max})`);
  return { min, max };
};

/** commander collector of a repeatable option. */
export const collect = (v: string, previous: string[] = []): string[] => [...previous, v];

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * `--since`: an ISO 8601 time, or a span back from `now` such as `90m`, `6h`, `7d`, `1w`.
 * Returns the ISO time the API takes.
 */
export function parseSince(v: string, now: Date = new Date()): string {
  const span = /^(\d{1,5})([mhdw])$/.exec(v.trim());
  if (span) return new Date(now.getTime() - Number(span[1]) * UNIT_MS[span[2] as keyof typeof UNIT_MS]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v))) return new Date(Date.parse(v)).toISOString();
  throw new UsageError(`--since ${v}: give a time (2025-06-01T08:00:00Z) or a span back from now (90m, 6h, 7d, 1w)`);
}

/** `key=value`: numbers as numbers, anything else as text (model names). */
function paramPair(pair: string): [string, string | number] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param ${pair}: expected key=value, e.g. --param steps=20`);
  const key = pair.slice(0, eq).trim();
  const raw = pair.slice(eq + 1).trim();
  return [key, /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw];
}

/** `--params JSON` then each `--param key=value` over it, checked against the parameter bounds. */
export function parseParams(pairs: readonly string[], json?: string): PartialParams | undefined {
  if (pairs.length === 0 && json === undefined) return undefined;
  let base: unknown = {};
  if (json !== undefined) {
    try {
      base = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`--params: not valid JSON (${(e as Error).message})`);
    }
    if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new UsageError('--params: expected a JSON object, e.g. \'{"steps": 20, "batch": 1}\'');
  }
  const merged = { ...(base as Record<string, unknown>), ...Object.fromEntries(pairs.map(paramPair)) };
  const parsed = partialParamsSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => i.code === 'unrecognized_keys'
      ? i.keys.map((k) => `${k}: not a parameter (width, height, steps, batch, model, seed, denoise, maskExpandPx)`)
      : [`${formatPath(i.path)}: ${i.message}`]);
    throw new UsageError(`bad inpaint parameters: ${issues.join('; ')}`);
  }
  return parsed.data;
}

export interface LocalJob {
  readonly person: string;
  readonly garment: string;
  readonly params?: PartialParams;
}

const manifestSchema = z.array(z.strictObject({
  person: z.string().min(1),
  garment: z.string().min(1),
  params: partialParamsSchema.optional(),
})).min(1).max(MAX_JOBS);

/** A manifest: a JSON array of {person, garment, params?}; paths relative to the manifest's folder. */
export function readManifest(file: string): LocalJob[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--manifest ${file}: ${code === undefined ? `not valid JSON (${(e as Error).message})` : `cannot read the file (${code})`}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ');
    throw new UsageError(`--manifest ${file}: ${issues}. Expected a JSON array of {"person": "<file>", "garment": "<file>", "params"?: {...}}`);
  }
  const dir = dirname(resolve(file));
  return parsed.data.map((j) => ({ person: resolve(dir, j.person), garment: resolve(dir, j.garment), ...(j.params !== undefined && { params: j.params }) }));
}

/** The jobs of a submit: every person with every garment, or the manifest's list. */
export function jobsFromOptions(o: { person: readonly string[]; garment: readonly string[]; manifest?: string }): LocalJob[] {
  if (o.manifest !== undefined) {
    if (o.person.length > 0 || o.garment.length > 0) throw new UsageError('give the jobs either with --manifest or with --person/--garment, not both');
    return readManifest(o.manifest);
  }
  if (o.person.length === 0 || o.garment.length === 0) {
    throw new UsageError('no jobs: give at least one --person FILE and one --garment FILE (each person is tried in each garment), or --manifest FILE');
  }
  const jobs = o.person.flatMap((person) => o.garment.map((garment) => ({ person, garment })));
  if (jobs.length > MAX_JOBS) throw new UsageError(`${o.person.length} persons × ${o.garment.length} garments make ${jobs.length} jobs; a pack holds at most ${MAX_JOBS}`);
  return jobs;
}
