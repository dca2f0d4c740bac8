/**
 * The GPU fleet's scaling bounds and pace, one schema for the deployed fleet (CDK context
 * keys) and the offline stack (`--workers min..max`). The scaling decision itself lives in
 * core/scaling.ts; this file only says what may be configured and its defaults.
 */
import { z } from 'zod';

const seconds = z.number().int().min(0).max(3600);

export const fleetScalingSchema = z
  .object({
    /** Workers kept running with no work (0: scale to zero). */
    minWorkers: z.number().int().min(0).max(100).default(0),
    maxWorkers: z.number().int().min(1).max(100).default(4),
    /** GPU messages (waiting + in flight) one worker is sized for: one running, one prefetched. */
    backlogPerWorker: z.number().int().min(1).max(64).default(2),
    /** Least time between two scale-outs, so a starting worker is counted before another is added. */
    scaleOutCooldownSeconds: seconds.default(60),
    /** A worker idle this long may be stopped (never one running a job). */
    scaleInCooldownSeconds: seconds.default(300),
  })
  .refine((s) => s.minWorkers <= s.maxWorkers, { message: 'minWorkers must not exceed maxWorkers', path: ['minWorkers'] });

export type FleetScalingSettings = z.output<typeof fleetScalingSchema>;
export const FLEET_SCALING_DEFAULTS: FleetScalingSettings = fleetScalingSchema.parse({});
