#!/usr/bin/env node
/**
 * `npm start`: runs a whole demo pack offline on real emulators, shows it live, and ends
 * with a report. `--serve` keeps the stack up and writes .vto/endpoints.json.
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { Command } from 'commander';
import { daysOption, intOption, timeScaleOption, workersOption } from '../cli/options.ts';
import { runOffline, type OfflineRunOptions } from '../cli/offline-run.ts';


const program = new Command()
  .name('npm start --')
  .description('Run a demo pack through the whole pipeline offline: DynamoDB Local, fauxqs, local Step Functions, simulated ComfyUI and providers, GPU workers')
  .option('--jobs <n>', 'jobs in the demo pack', intOption('--jobs', 1, 1000), 24)
  .option('--profile <name>', 'fault profile of the simulators (none, default, chaos, flaky-providers)', 'default')
  .option('--seed <n>', 'seed of the fault decisions', intOption('--seed', 0, 2 ** 31 - 1), 1)
  .option('--time-scale <f>', 'real seconds per pipeline second: 1 = real time, 0.05 = 20× faster', timeScaleOption, 0.05)
  .option('--workers <n|min..max>', 'GPU workers: N runs N warm workers; MIN..MAX (e.g. 0..4) autoscales on the GPU backlog, with a modelled cold start', workersOption, { min: 2, max: 2 })
  .option('--json', 'print the final report as one JSON document instead of tables', false)
  .option('--serve', 'keep the stack up until Ctrl-C and write .vto/endpoints.json', false)
  .option('--no-demo', 'with --serve: start the stack without running the demo pack')
  .option('--retention-days <d>', 'erase finished packs older than this many (scaled) days, as the packRetentionDays context does (default: kept)', daysOption('--retention-days'))
  .action(async (opts: OfflineRunOptions) => {
    process.exitCode = await runOffline(opts);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`npm start: ${(e as Error).message}\n`);
  process.exit(1);
});
