/**
 * Grants are declared beside the calls: every module of the product's code that sends an
 * AWS SDK command (or pre-signs one) exports what it needs (`…_ACCESS`). The stack grants the
 * union per principal (lib/grants.ts) and IAM enforcement offline proves the union suffices.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECOVERY_FUNCTION_ACCESS, STATE_FUNCTION_DEFS } from '../../lambdas/catalog.ts';
import { API_ACCESS } from '../../lambdas/api/access.ts';
import { GPU_WORKER_ACCESS } from '../../worker/access.ts';
import { WEBHOOK_SENDER_ACCESS } from '../../adapters/webhook-delivery.ts';
import { WEBHOOK_SENDER_PRINCIPAL } from '../../local/iam/policies.ts';

const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);

describe('access declarations', () => {
  it('sit beside every SDK call in adapters/, lambdas/ and worker/', () => {
    // Prepare
    const callers = [...sources('adapters'), ...sources('lambdas'), ...sources('worker')]
      .filter((f) => !f.endsWith('aws-clients.ts'))
      .filter((f) => /\.send\(\s*new \w+Command\(|getSignedUrl\(/.test(readFileSync(f, 'utf8')));

    // Act
    const undeclared = callers.filter((f) => !/export const \w+_ACCESS\b/.test(readFileSync(f, 'utf8')));

    // Assess
    expect(callers.length).toBeGreaterThan(10);
    expect(undeclared).toEqual([]);
  });

  it('give every principal some access, each grant naming IAM actions of one service', () => {
    const principals = {
      ...Object.fromEntries(Object.entries(STATE_FUNCTION_DEFS).map(([id, d]) => [id, d.access])),
      Watchdog: RECOVERY_FUNCTION_ACCESS.watchdog, Reconciler: RECOVERY_FUNCTION_ACCESS.reconciler, Api: API_ACCESS, GpuWorker: GPU_WORKER_ACCESS,
      [WEBHOOK_SENDER_PRINCIPAL]: WEBHOOK_SENDER_ACCESS,
    };
    for (const [principal, access] of Object.entries(principals)) {
      expect(access.length, principal).toBeGreaterThan(0);
      for (const g of access) {
        expect(new Set(g.actions.map((a) => a.split(':')[0])).size, `${principal} ${g.on}`).toBe(1);
        expect(g.actions.every((a) => /^[a-z0-9-]+:[A-Z][A-Za-z]+$/.test(a)), `${principal} ${g.on}`).toBe(true);
      }
    }
  });
});
