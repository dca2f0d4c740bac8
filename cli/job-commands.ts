/** `vto jobs …`: show one job with its recovery path; retry or cancel it. */
import type { Command } from 'commander';
import { ApiRefusal } from './errors.ts';
import { apiOptions, runCommand, type CommonOptions } from './command-context.ts';
import { checkId } from './options.ts';
import { renderCancelledJob, renderJob, renderRetried } from './render-jobs.ts';

/** The API's refusals that `--force` overrides. */
const NEEDS_FORCE = ['JobComplete', 'JobNotRecoverable'];

export function registerJobCommands(program: Command): void {
  const jobs = program.command('jobs').description('Inspect and retry single jobs');

  apiOptions(jobs.command('show')
    .description('A job: parameters (and what recovery changed), QA report, recovery path, checkpoints, pre-signed outputs')
    .argument('<id>', 'job id'))
    .action(async (id: string, o: CommonOptions) => runCommand(o, async (ctx) => {
      checkId('job', id);
      const job = await ctx.client().call('getJob', { params: { id } });
      ctx.print(job, () => renderJob(job));
    }));

  apiOptions(jobs.command('retry')
    .description('Run one job again. A complete job, or one whose failure a retry does not cure, needs --force')
    .argument('<id>', 'job id')
    .option('-f, --force', 'run it even so, with its attempt counters reset'))
    .action(async (id: string, o: CommonOptions & { force?: boolean }) => runCommand(o, async (ctx) => {
      checkId('job', id);
      const retried = await ctx.client().call('retryJob', { params: { id }, body: o.force === true ? { force: true } : {} }).catch((e: unknown) => {
        throw e instanceof ApiRefusal && NEEDS_FORCE.includes(e.code) ? e.withHint(`run \`vto jobs retry ${id} --force\` to retry it anyway`) : e;
      });
      ctx.print(retried, () => renderRetried(retried));
    }));

  apiOptions(jobs.command('cancel')
    .description('Cancel an unfinished job: its execution stops (a GPU prompt is interrupted), it ends cancelled with its finished stages kept; `vto jobs retry` runs it again')
    .argument('<id>', 'job id'))
    .action(async (id: string, o: CommonOptions) => runCommand(o, async (ctx) => {
      checkId('job', id);
      const cancelled = await ctx.client().call('cancelJob', { params: { id } });
      ctx.print(cancelled, () => renderCancelledJob(cancelled));
    }));
}
