/**
 * The GPU fleet's context keys (`-c gpuFleet=ecs`, `-c gpuFleetMaxWorkers=8`, …), parsed at
 * synth: scaling by the one schema the offline stack also uses (core/fleet-scaling-settings.ts),
 * so a bad value fails synth naming the key and the reason.
 */
import { fleetScalingSchema, type FleetScalingSettings } from '../core/fleet-scaling-settings.ts';

export const GPU_FLEET_KINDS = ['ecs'] as const;
export type GpuFleetKind = (typeof GPU_FLEET_KINDS)[number];

type ScalingField = keyof FleetScalingSettings;
const SCALING_FIELDS = Object.keys(fleetScalingSchema.shape) as ScalingField[];
const contextKeyOf = (field: ScalingField) => `gpuFleet${field[0]?.toUpperCase() ?? ''}${field.slice(1)}`;

/** Context key → scaling field: `gpuFleetMinWorkers` → `minWorkers`, and so on for every schema field. */
export const GPU_FLEET_SCALING_KEYS: Readonly<Record<string, ScalingField>> = Object.fromEntries(SCALING_FIELDS.map((f) => [contextKeyOf(f), f]));

/** What each fleet context key sets, for README's context table. */
export const GPU_FLEET_CONTEXT_DOCS = {
  gpuFleet: '`ecs` adds the GPU fleet (ECS on EC2, GPU capacity provider); unset, no fleet',
  gpuFleetInstanceType: 'GPU instance type, one GPU each; default `g5.xlarge`',
  gpuFleetSpot: '`true`: Spot instances (drained on interruption); default `false` (On-Demand)',
  ...Object.fromEntries(SCALING_FIELDS.map((f) => [contextKeyOf(f), `\`${f}\` of core/fleet-scaling-settings.ts`])),
} as Readonly<Record<string, string>>;

export const GPU_FLEET_CONTEXT_KEYS = Object.keys(GPU_FLEET_CONTEXT_DOCS);

export interface GpuFleetOptions {
  readonly kind: GpuFleetKind;
  readonly scaling: FleetScalingSettings;
  readonly instanceType: string;
  readonly spot: boolean;
}

export class GpuFleetSettingError extends Error {
  constructor(key: string, reason: string) {
    super(`context ${key} is invalid: ${reason}`);
    this.name = 'GpuFleetSettingError';
  }
}

export const DEFAULT_GPU_INSTANCE_TYPE = 'g5.xlarge';
/** GPU families (g4dn, g5, g6, p4d, p5, …): the task reserves one GPU. */
const GPU_INSTANCE_TYPE = /^(g|p)\d[a-z]*\.[a-z0-9]+$/;

const given = (v: unknown) => v !== undefined && v !== null && v !== '';

/** Numbers as `-c` gives them (strings) or cdk.json does (numbers); anything else is left for the schema to refuse. */
function numberish(v: unknown): unknown {
  return typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
}

/**
 * The fleet options from raw context values (key → value as the context holds it); undefined
 * when `gpuFleet` is unset. The scaling keys are checked even then, so a typo'd value never
 * waits for the day the fleet is turned on.
 */
export function gpuFleetFromContext(read: (key: string) => unknown): GpuFleetOptions | undefined {
  const raw: Record<string, unknown> = {};
  const keyOf = new Map<string, string>();
  for (const [key, field] of Object.entries(GPU_FLEET_SCALING_KEYS)) {
    const v = read(key);
    if (!given(v)) continue;
    raw[field] = numberish(v);
    keyOf.set(field, key);
  }
  const parsed = fleetScalingSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    const key = keyOf.get(field) ?? (contextKeyOf(field as ScalingField));
    const got = raw[field] === undefined ? `the default ${JSON.stringify(fleetScalingSchema.shape[field as ScalingField].parse(undefined))}` : JSON.stringify(read(key));
    throw new GpuFleetSettingError(key, `${issue?.message ?? 'invalid'} (got ${got})`);
  }

  const kind = read('gpuFleet');
  if (!given(kind)) return undefined;
  if (!GPU_FLEET_KINDS.includes(kind as GpuFleetKind)) throw new GpuFleetSettingError('gpuFleet', `must be ${GPU_FLEET_KINDS.join(' or ')}, or unset for no fleet (got ${JSON.stringify(kind)})`);

  const type = read('gpuFleetInstanceType');
  const instanceType = given(type) ? type : DEFAULT_GPU_INSTANCE_TYPE;
  if (typeof instanceType !== 'string' || !GPU_INSTANCE_TYPE.test(instanceType)) {
    throw new GpuFleetSettingError('gpuFleetInstanceType', `must be a GPU instance type such as g5.xlarge (g or p family) (got ${JSON.stringify(type)})`);
  }
  const spotRaw = read('gpuFleetSpot');
  if (given(spotRaw) && ![true, false, 'true', 'false'].includes(spotRaw as string | boolean)) {
    throw new GpuFleetSettingError('gpuFleetSpot', `must be true or false (got ${JSON.stringify(spotRaw)})`);
  }
  return { kind: kind as GpuFleetKind, scaling: parsed.data, instanceType, spot: spotRaw === true || spotRaw === 'true' };
}
