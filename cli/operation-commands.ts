/** `vto stats`, `vto health`, `vto emergency-stop`, `vto resume`. */
import type { Command } from 'commander';
import { apiOptions, runCommand, type CommonOptions } from './command-context.ts';
import { parseSince } from './options.ts';
import { renderHealth, renderResumed, renderStats, renderStopped } from './render-operations.ts';

export function registerOperationCommands(program: Command): void {
  apiOptions(program.command('stats')
    .description('Errors, recoveries, recovery rate, per error name and per strategy, time to recover')
    .option('--since <when>', 'start of the window: a time (2025-06-01T08:00:00Z) or a span back from now (90m, 6h, 7d); default 24 hours'))
    .action(async (o: CommonOptions & { since?: string }) => runCommand(o, async (ctx) => {
      const since = o.since === undefined ? undefined : parseSince(o.since);
      const stats = await ctx.client().call('getStatistics', { query: { since } });
      ctx.print(stats, () => renderStats(stats));
    }));

  apiOptions(program.command('health')
    .description('Dependencies, queue depths, stuck jobs, emergency stop and circuit breakers'))
    .action(async (o: CommonOptions) => runCommand(o, async (ctx) => {
      const health = await ctx.client().call('getHealth');
      ctx.print(health, () => renderHealth(health));
    }));

  apiOptions(program.command('emergency-stop')
    .description('Stop every running execution and pause GPU consumption; nothing is lost (undo with `vto resume`)')
    .option('-r, --reason <text>', 'why, for the record and the health report'))
    .action(async (o: CommonOptions & { reason?: string }) => runCommand(o, async (ctx) => {
      const stopped = await ctx.client().call('emergencyStop', { body: o.reason === undefined ? {} : { reason: o.reason } });
      ctx.print(stopped, () => renderStopped(stopped));
    }));

  apiOptions(program.command('resume')
    .description('Clear the emergency stop and start again what it stopped'))
    .action(async (o: CommonOptions) => runCommand(o, async (ctx) => {
      const resumed = await ctx.client().call('resume');
      ctx.print(resumed, () => renderResumed(resumed));
    }));
}
