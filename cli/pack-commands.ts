/** `vto packs …`: submit, list, show, watch, restart-incomplete, refine, cancel, delete. */
import { Option, type Command } from 'commander';
import { JOB_STATUSES, type JobStatus } from '../core/status.ts';
import { REFINE_SCOPES, type RefineScope } from '../core/refine.ts';
import { PAGE } from '../lambdas/api/limits.ts';
import type { PackView } from '../lambdas/api/schemas.ts';
import { apiOptions, runCommand, type CommandContext, type CommonOptions } from './command-context.ts';
import { followPack, type FollowOptions } from './follow.ts';
import { checkId, collect, intOption, jobsFromOptions, parseParams, secondsOption } from './options.ts';
import { confirm } from './confirm.ts';
import { renderCancelledPack, renderErasure, renderErasureScope, renderWebhookFailures, renderCreated, renderPack, renderPackEnd, renderPackList, renderRestarted } from './render-packs.ts';
import { submitPack } from './submit.ts';
import { allJobs } from './watch.ts';
import { INPAINT_BACKENDS } from '../core/inpaint-backend.ts';

interface FollowFlags {
  readonly interval: number;
  readonly maxWait: number;
}

/** The options of anything that follows a pack to its end. */
const followOptions = (cmd: Command) => cmd
  .addOption(new Option('--interval <seconds>', 'time between polls').argParser(secondsOption('--interval', 60)).default(1000, '1'))
  .addOption(new Option('--max-wait <seconds>', 'give up following after this long (exit 1)').argParser(secondsOption('--max-wait', 7 * 86_400)).default(3_600_000, '3600'));

const followOf = (o: FollowFlags): FollowOptions => ({ intervalMs: o.interval, maxWaitMs: o.maxWait });

/**
 * After a command started a pack: with --wait, follow it and print how it ended (JSON:
 * `{started, pack}`); without, print what was started.
 */
async function startedThen<T extends { packId: string }>(ctx: CommandContext, started: T, human: (s: T) => string, wait: FollowFlags | undefined): Promise<number> {
  if (wait === undefined) {
    ctx.print(started, () => human(started));
    return 0;
  }
  if (!ctx.json) process.stdout.write(`${human(started)}\n`);
  const { result, code } = await followPack(ctx, started.packId, followOf(wait));
  ctx.print({ started, pack: result.pack }, () => `\n${renderPack(result.pack)}\n\n${renderPackEnd(result.pack)}`);
  return code;
}

export function registerPackCommands(program: Command): void {
  const packs = program.command('packs').description('Create, list, follow and repair packs');

  followOptions(apiOptions(packs.command('submit')
    .description('Create a pack from local images: uploads them, then starts the pack. Each --person is tried in each --garment, or give the jobs in a --manifest')
    .requiredOption('-n, --name <name>', 'the pack\'s name')
    .option('-p, --person <file>', 'a person image (PNG, JPEG or WebP); repeat for several', collect)
    .option('-g, --garment <file>', 'a garment image; repeat for several', collect)
    .option('-m, --manifest <file>', 'JSON array of {"person": FILE, "garment": FILE, "params"?: {...}} (paths relative to the manifest)')
    .addOption(new Option('--inpaint <backend>', 'where the inpaint runs').choices(INPAINT_BACKENDS).default('comfyui'))
    .option('--param <key=value>', 'an inpaint parameter for every job (width, height, steps, batch, model, seed, denoise, maskExpandPx); repeatable', collect)
    .option('--params <json>', 'inpaint parameters as a JSON object; --param values override them')
    .option('--idempotency-key <key>', 'send this Idempotency-Key (default: a new one): submitting again with the same key and images does not create a second pack')
    .option('-w, --wait', 'follow the pack with a progress bar until it ends; exit 0 only if it ends complete')))
    .action(async (o: CommonOptions & FollowFlags & {
      name: string; person?: string[]; garment?: string[]; manifest?: string; inpaint: 'comfyui' | 'hosted';
      param?: string[]; params?: string; idempotencyKey?: string; wait?: boolean;
    }) => runCommand(o, async (ctx) => {
      const jobs = jobsFromOptions({ person: o.person ?? [], garment: o.garment ?? [], ...(o.manifest !== undefined && { manifest: o.manifest }) });
      const params = parseParams(o.param ?? [], o.params);
      const created = await submitPack(() => ctx.client(), {
        name: o.name, inpaint: o.inpaint, jobs,
        ...(params !== undefined && { params }),
        ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey }),
      }, { uploadTimeoutMs: Math.max(ctx.timeoutMs, 120_000), note: ctx.note });
      return startedThen(ctx, created, renderCreated, o.wait === true ? o : undefined);
    }));

  apiOptions(packs.command('list')
    .description('List packs, newest first')
    .option('--limit <n>', 'packs per page', intOption('--limit', 1, PAGE.max), PAGE.default)
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .option('--all', 'every page (at most 100)'))
    .action(async (o: CommonOptions & { limit: number; cursor?: string; all?: boolean }) => runCommand(o, async (ctx) => {
      const items: PackView[] = [];
      let cursor = o.cursor;
      for (let page = 0; page < (o.all ? 100 : 1); page++) {
        const res = await ctx.client().call('listPacks', { query: { limit: o.limit, cursor } });
        items.push(...res.items);
        cursor = res.nextCursor;
        if (cursor === undefined) break;
      }
      const list = { items, ...(cursor !== undefined && { nextCursor: cursor }) };
      ctx.print(list, () => renderPackList(list));
    }));

  apiOptions(packs.command('show')
    .description('A pack: status, counts per status, progress, console link, and its jobs')
    .argument('<id>', 'pack id')
    .addOption(new Option('--status <status>', 'only the jobs of this status').choices(JOB_STATUSES))
    .option('--no-jobs', 'leave the jobs out'))
    .action(async (id: string, o: CommonOptions & { status?: JobStatus; jobs: boolean }) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const pack = await ctx.client().call('getPack', { params: { id } });
      const jobs = o.jobs ? await allJobs(ctx.client(), id, pack.jobCount, o.status) : undefined;
      ctx.print({ pack, ...(jobs !== undefined && { jobs }) }, () => renderPack(pack, jobs));
    }));

  followOptions(apiOptions(packs.command('watch')
    .description('Follow a pack live until it ends: counts per status, recoveries as they happen; exit 0 only if it ends complete')
    .argument('<id>', 'pack id')))
    .action(async (id: string, o: CommonOptions & FollowFlags) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const { result, code } = await followPack(ctx, id, followOf(o));
      ctx.print(result.pack, () => `${renderPack(result.pack)}\n\n${renderPackEnd(result.pack)}`);
      return code;
    }));

  followOptions(apiOptions(packs.command('restart-incomplete')
    .description('Run every job of the pack that is not complete again (checkpoints kept)')
    .argument('<id>', 'pack id')
    .option('-w, --wait', 'follow the pack until it ends')))
    .action(async (id: string, o: CommonOptions & FollowFlags & { wait?: boolean }) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const restarted = await ctx.client().call('restartIncomplete', { params: { id } });
      return startedThen(ctx, restarted, renderRestarted, o.wait === true ? o : undefined);
    }));

  followOptions(apiOptions(packs.command('refine')
    .description('A new pack that runs the finished jobs again: successful_only improves the complete ones; all_completed also takes the failed ones for a corrective pass')
    .argument('<id>', 'pack id')
    .addOption(new Option('--scope <scope>', 'which jobs the new pack takes').choices(REFINE_SCOPES).makeOptionMandatory())
    .option('--idempotency-key <key>', 'send this Idempotency-Key (default: a new one)')
    .option('-w, --wait', 'follow the new pack until it ends')))
    .action(async (id: string, o: CommonOptions & FollowFlags & { scope: RefineScope; idempotencyKey?: string; wait?: boolean }) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const created = await ctx.client().call('refinePack', {
        params: { id }, body: { scope: o.scope },
        ...(o.idempotencyKey !== undefined && { headers: { 'idempotency-key': o.idempotencyKey } }),
      });
      return startedThen(ctx, created, renderCreated, o.wait === true ? o : undefined);
    }));

  apiOptions(packs.command('cancel')
    .description('Cancel a pack: its run and every unfinished job stop (GPU prompts interrupted); finished jobs keep their outputs; the pack ends cancelled')
    .argument('<id>', 'pack id'))
    .action(async (id: string, o: CommonOptions) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const cancelled = await ctx.client().call('cancelPack', { params: { id } });
      ctx.print(cancelled, () => renderCancelledPack(cancelled));
    }));

  apiOptions(packs.command('delete')
    .description('Erase a pack and everything of it: its stored objects in every version, its jobs, its records (recovery events stay counted without ids); asks first, naming what goes, unless --yes')
    .argument('<id>', 'pack id')
    .option('-y, --yes', 'erase without asking'))
    .action(async (id: string, o: CommonOptions & { yes?: boolean }) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      if (o.yes !== true) {
        const scope = await ctx.client().call('getErasure', { params: { id } });
        process.stderr.write(`${renderErasureScope(scope)}\n`);
        if (!(await confirm(`erase pack ${id}? type yes to confirm: `))) {
          process.stderr.write(`\npack ${id} not erased\n`);
          return 1;
        }
      }
      const erased = await ctx.client().call('deletePack', { params: { id } });
      ctx.print(erased, () => renderErasure(erased));
      return 0;
    }));

  apiOptions(packs.command('webhook-failures')
    .description('Webhook deliveries of the pack that were given up on (4xx, refused address, or 24 h of 5xx/timeouts)')
    .argument('<id>', 'pack id'))
    .action(async (id: string, o: CommonOptions) => runCommand(o, async (ctx) => {
      checkId('pack', id);
      const failures = await ctx.client().call('listWebhookFailures', { params: { id } });
      ctx.print(failures, () => renderWebhookFailures(failures));
    }));
}
