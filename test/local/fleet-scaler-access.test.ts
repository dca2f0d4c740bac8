/**
 * The offline fleet scaler runs its queue reads as the GPU worker role (local/stack.ts), so
 * what it declares (FLEET_SCALER_ACCESS) must be within what that role is granted; the
 * offline IAM check then refuses anything else (test/integration/fleet-scaling.test.ts
 * asserts no refusal on a scaling run).
 */
import { describe, expect, it } from 'vitest';
import { FLEET_SCALER_ACCESS } from '../../local/fleet-scaler.ts';
import { GPU_WORKER_ACCESS } from '../../worker/access.ts';

describe('the fleet scaler\'s access', () => {
  it('is a subset of the GPU worker role it runs as', () => {
    expect(FLEET_SCALER_ACCESS).toEqual([{ on: 'queue:gpu', actions: ['sqs:GetQueueAttributes'] }]);
    for (const g of FLEET_SCALER_ACCESS) {
      const granted = GPU_WORKER_ACCESS.find((w) => w.on === g.on)?.actions ?? [];
      expect(granted, g.on).toEqual(expect.arrayContaining([...g.actions]));
    }
  });
});
