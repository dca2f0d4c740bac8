/**
 * The fleet's scaling decision (core/scaling.ts) as a table: from zero, out bounded by
 * maxWorkers and by the scale-out cooldown, in only after scaleInCooldownSeconds of
 * idleness, never below minWorkers, never a worker holding a job.
 */
import { describe, expect, it } from 'vitest';
import { FLEET_SCALING_DEFAULTS, fleetScalingSchema, type FleetScalingSettings } from '../../core/fleet-scaling-settings.ts';
import { decideScaling, type FleetState, type FleetWorker } from '../../core/scaling.ts';

const NOW = 1_000_000_000;
const s = (over: Partial<FleetScalingSettings> = {}): FleetScalingSettings => fleetScalingSchema.parse({ ...FLEET_SCALING_DEFAULTS, ...over });
const ready = (id: string, idleSeconds: number | null, busy = idleSeconds === null ? 1 : 0): FleetWorker =>
  ({ id, phase: 'ready', busy, idleSince: idleSeconds === null ? null : NOW - idleSeconds * 1000 });
const phase = (id: string, p: FleetWorker['phase']): FleetWorker => ({ id, phase: p, busy: 0, idleSince: NOW });
const state = (over: Partial<FleetState>): FleetState => ({ backlog: 0, inFlight: 0, workers: [], lastScaleOutAt: null, now: NOW, ...over });

describe('decideScaling', () => {
  it.each<[string, FleetState, FleetScalingSettings, { desired: number; start: number; stop: string[]; reason: RegExp }]>([
    ['empty fleet, empty queue: stays at zero',
      state({}), s(), { desired: 0, start: 0, stop: [], reason: /steady at 0/ }],
    ['from zero: one message starts one worker',
      state({ backlog: 1 }), s(), { desired: 1, start: 1, stop: [], reason: /scale out 0 → 1/ }],
    ['from zero: 5 messages at 2 per worker start 3',
      state({ backlog: 5 }), s(), { desired: 3, start: 3, stop: [], reason: /scale out 0 → 3/ }],
    ['in-flight messages count with waiting ones',
      state({ backlog: 1, inFlight: 4, workers: [ready('w1', null, 2), ready('w2', null, 2)], lastScaleOutAt: NOW - 61_000 }), s(),
      { desired: 3, start: 1, stop: [], reason: /5 message\(s\) \(1 waiting, 4 in flight\)/ }],
    ['scale-out capped at maxWorkers',
      state({ backlog: 100 }), s({ maxWorkers: 4 }), { desired: 4, start: 4, stop: [], reason: /capped at maxWorkers 4/ }],
    ['at maxWorkers: no more',
      state({ backlog: 100, workers: ['a', 'b'].map((id) => ready(id, null)) }), s({ maxWorkers: 2 }), { desired: 2, start: 0, stop: [], reason: /steady at 2/ }],
    ['scale-out held inside the cooldown',
      state({ backlog: 10, workers: [phase('w1', 'starting')], lastScaleOutAt: NOW - 30_000 }), s({ scaleOutCooldownSeconds: 60 }),
      { desired: 1, start: 0, stop: [], reason: /cooldown has 30 s left/ }],
    ['scale-out again once the cooldown passed, counting starting and warming workers',
      state({ backlog: 10, workers: [phase('w1', 'starting'), phase('w2', 'warming')], lastScaleOutAt: NOW - 60_000 }), s({ scaleOutCooldownSeconds: 60 }),
      { desired: 4, start: 2, stop: [], reason: /scale out 2 → 4/ }],
    ['draining workers count for nothing',
      state({ backlog: 2, workers: [phase('w1', 'draining')] }), s(), { desired: 1, start: 1, stop: [], reason: /scale out 0 → 1/ }],
    ['minWorkers restored inside the cooldown',
      state({ workers: [], lastScaleOutAt: NOW - 1000 }), s({ minWorkers: 1 }), { desired: 1, start: 1, stop: [], reason: /restore minWorkers 1/ }],
    ['warm minimum with an empty queue: starts one',
      state({}), s({ minWorkers: 1 }), { desired: 1, start: 1, stop: [], reason: /scale out 0 → 1/ }],
    ['idle shorter than scaleInCooldownSeconds: kept',
      state({ workers: [ready('w1', 299)] }), s({ scaleInCooldownSeconds: 300 }), { desired: 1, start: 0, stop: [], reason: /no ready worker has been idle 300 s/ }],
    ['idle for scaleInCooldownSeconds: stopped',
      state({ workers: [ready('w1', 300)] }), s({ scaleInCooldownSeconds: 300 }), { desired: 0, start: 0, stop: ['w1'], reason: /scale in 1 → 0/ }],
    ['never below minWorkers',
      state({ workers: [ready('w1', 900), ready('w2', 900)] }), s({ minWorkers: 1, scaleInCooldownSeconds: 60 }),
      { desired: 1, start: 0, stop: ['w1'], reason: /scale in 2 → 1.*floor minWorkers 1/ }],
    ['longest idle stopped first',
      state({ workers: [ready('w1', 100), ready('w2', 500), ready('w3', 300)] }), s({ minWorkers: 1, scaleInCooldownSeconds: 60 }),
      { desired: 1, start: 0, stop: ['w2', 'w3'], reason: /scale in 3 → 1/ }],
    ['never a worker holding a job, however long the fleet is oversized',
      state({ inFlight: 1, workers: [ready('busy', null, 1), ready('idle', 10)] }), s({ scaleInCooldownSeconds: 60 }),
      { desired: 2, start: 0, stop: [], reason: /no ready worker has been idle 60 s/ }],
    ['a busy worker kept, an idle one beside it stopped',
      state({ inFlight: 1, workers: [ready('busy', null, 1), ready('idle', 120)] }), s({ scaleInCooldownSeconds: 60 }),
      { desired: 1, start: 0, stop: ['idle'], reason: /scale in 2 → 1/ }],
    ['a worker holding a message with a stale idleSince is still busy',
      state({ workers: [{ id: 'w1', phase: 'ready', busy: 1, idleSince: NOW - 999_000 }] }), s({ scaleInCooldownSeconds: 60 }),
      { desired: 1, start: 0, stop: [], reason: /hold at 1/ }],
    ['starting and warming workers are not stopped',
      state({ workers: [{ ...phase('w1', 'starting'), idleSince: 0 }, { ...phase('w2', 'warming'), idleSince: 0 }] }), s({ scaleInCooldownSeconds: 0 }),
      { desired: 2, start: 0, stop: [], reason: /hold at 2/ }],
  ])('%s', (_name, st, settings, want) => {
    const d = decideScaling(st, settings);
    expect({ desired: d.desired, start: d.start, stop: d.stop }).toEqual({ desired: want.desired, start: want.start, stop: want.stop });
    expect(d.reason).toMatch(want.reason);
  });

  it('desired stays within [minWorkers, maxWorkers] once the fleet has had time to act', () => {
    const settings = s({ minWorkers: 1, maxWorkers: 3, scaleOutCooldownSeconds: 0, scaleInCooldownSeconds: 0 });
    for (const backlog of [0, 1, 2, 5, 6, 7, 50]) {
      for (let n = 0; n <= 5; n++) {
        const d = decideScaling(state({ backlog, workers: Array.from({ length: n }, (_, i) => ready(`w${i}`, 0)) }), settings);
        expect(d.desired, `backlog ${backlog}, ${n} idle workers`).toBeGreaterThanOrEqual(1);
        expect(d.desired, `backlog ${backlog}, ${n} idle workers`).toBeLessThanOrEqual(3);
        expect(d.desired).toBe(n + d.start - d.stop.length);
      }
    }
  });
});
