/**
 * Starts DynamoDB Local and fauxqs once per test run and points the AWS SDK at them
 * through the standard AWS_ENDPOINT_URL_* variables, which the test workers inherit.
 * Each test file provisions its own tables and queues under a unique prefix.
 */
import type { TestProject } from 'vitest/node';
import { loadPolicies } from '../../local/iam/policies.ts';
import { awsEnvFor, startEmulators, type Emulators } from '../../local/emulators.ts';

let emulators: Emulators | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  emulators = await startEmulators();
  // The synthesized IAM policies are cached by source hash: synthesized once here, not by each
  // file that enforces IAM (local/iam/) at once. After the emulators, so they start unhurried.
  await loadPolicies();
  const env = {
    ...awsEnvFor(emulators),
    POWERTOOLS_DEV: 'false',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  Object.assign(process.env, env);
  project.provide('awsEnv', env);
  return async () => {
    await emulators?.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    awsEnv: Record<string, string>;
  }
}
