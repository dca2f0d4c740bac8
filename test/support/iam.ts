/**
 * IAM as AWS enforces it, in a test file: the synthesized policies (cached across runs),
 * bound to the names this file provisioned, checked on every call made `asPrincipal`.
 * `afterAll(expectNoDenials)` makes a file fail when any call of its was refused, even one
 * whose error the code swallowed.
 */
import { expect } from 'vitest';
import { LOCAL_REGION } from '../../local/emulators.ts';
import { enforceIam, type Enforcement } from '../../local/iam/enforce.ts';
import { loadPolicies } from '../../local/iam/policies.ts';
import { LOCAL_ACCOUNT } from '../../local/stack.ts';

export async function enforceIamHere(): Promise<Enforcement> {
  return enforceIam({ policies: await loadPolicies(), region: LOCAL_REGION, account: LOCAL_ACCOUNT });
}

export function expectNoDenials(e: Enforcement): void {
  expect(e.denials().map((d) => d.message)).toEqual([]);
}
