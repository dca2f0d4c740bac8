/**
 * Loaded with `node --import` before a GPU worker child of the offline stack: turns IAM
 * enforcement on in that process, as the principal and with the policies its parent names
 * (IAM_ENV), appending refusals to the file the parent reads.
 */
import { readFileSync } from 'node:fs';
import { IAM_ENV, enforceIam } from './enforce.ts';
import type { SymbolicPolicies } from './policies.ts';

const env = process.env;
const file = env[IAM_ENV.policiesFile];
const principal = env[IAM_ENV.principal];
const account = env[IAM_ENV.account];
const denialsFile = env[IAM_ENV.denialsFile];
if (file === undefined || principal === undefined || account === undefined) {
  throw new Error(`the IAM preload needs ${IAM_ENV.policiesFile}, ${IAM_ENV.principal} and ${IAM_ENV.account}`);
}
enforceIam({
  policies: JSON.parse(readFileSync(file, 'utf8')) as SymbolicPolicies,
  region: env['AWS_REGION'] ?? 'us-east-1',
  account,
  defaultPrincipal: principal,
  ...(denialsFile !== undefined && { denialsFile }),
});
