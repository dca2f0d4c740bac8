#!/usr/bin/env node
/**
 * One variant of the recovery benchmark in a process of its own (bench/recovery.ts starts
 * two): the offline stack's emulators and the handlers' AWS clients are per process, and
 * both variants must start from nothing with the same job ids. Reads its options as JSON
 * from argv[2], prints the variant's report as one JSON line on stdout; progress lines on
 * stderr start with "[bench]".
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { runVariant, type VariantOptions } from './variant.ts';

// Stopped from outside (a timed-out run): exit through the 'exit' listeners that kill the
// stack's workers and JVM (local/child-processes.ts), rather than die with them running.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(143));

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as Omit<VariantOptions, 'log'>;
  const report = await runVariant({ ...options, log: (line) => process.stderr.write(`[bench] ${line}\n`) });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`[bench] variant failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
