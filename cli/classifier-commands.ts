/** `vto classifier patterns list|dry-run|add|remove`: operators teach the classifier through the API. */
import { Option, type Command } from 'commander';
import { STAGES } from '../core/strategies.ts';
import { UsageError } from './classify.ts';
import { apiOptions, runCommand, type CommonOptions } from './command-context.ts';
import { renderAdded, renderDryRun, renderPatterns, renderRemoved } from './render-classifier.ts';

interface PatternOptions extends CommonOptions {
  readonly name: string;
  readonly pattern: string;
  readonly regex?: boolean;
  readonly caseSensitive?: boolean;
  readonly stage?: string;
  readonly limit?: string;
}

/** The options every pattern body shares; the API validates them (its 400 names the field). */
function patternOptions(cmd: Command): Command {
  return apiOptions(cmd
    .requiredOption('-n, --name <error>', 'the taxonomy name failures it matches get (see `vto classify --list`)')
    .requiredOption('-p, --pattern <text>', 'a substring of the failure text (or with --regex, a regular expression)')
    .option('--regex', 'the pattern is a regular expression')
    .option('--case-sensitive', 'match case exactly (default: case is ignored)')
    .addOption(new Option('--stage <stage>', 'only failures met in this stage').choices(STAGES))
    .option('--limit <n>', 'recorded failures looked at: the newest failed jobs (default 200, at most 1000)'));
}

function patternBody(o: PatternOptions): Record<string, unknown> {
  const limit = o.limit === undefined ? undefined : Number(o.limit);
  if (limit !== undefined && !Number.isInteger(limit)) throw new UsageError(`--limit must be a whole number, got "${o.limit}"`);
  return {
    name: o.name, pattern: o.pattern, match: o.regex ? 'regex' : 'substring', ignoreCase: o.caseSensitive !== true,
    ...(o.stage !== undefined && { stage: o.stage }), ...(limit !== undefined && { limit }),
  };
}

export function registerClassifierCommands(program: Command): void {
  const patterns = program.command('classifier').description('The classifier that names failures')
    .command('patterns').description('Operator-taught patterns: failures they match get a taxonomy name, tried before the built-in rules');

  apiOptions(patterns.command('list').description('The taught patterns, newest first, with who saved them and when'))
    .action(async (o: CommonOptions) => runCommand(o, async (ctx) => {
      const l = await ctx.client().call('listClassifierPatterns');
      ctx.print(l, () => renderPatterns(l));
    }));

  patternOptions(patterns.command('dry-run').description('Which recorded failures a pattern would name, and how; saves nothing'))
    .action(async (o: PatternOptions) => runCommand(o, async (ctx) => {
      const d = await ctx.client().call('dryRunClassifierPattern', { body: patternBody(o) });
      ctx.print(d, () => renderDryRun(d));
    }));

  patternOptions(patterns.command('add').description('Save a pattern (the next version); Lambdas and GPU workers use it within a minute'))
    .option('--note <text>', 'why, for the record')
    .addOption(new Option('--recorded <action>', 'recorded failures it matches: leave them, reclassify them, or reclassify and re-run those now recoverable (bounded as deferred recovery is)')
      .choices(['leave', 'reclassify', 'rerun']).default('reclassify'))
    .action(async (o: PatternOptions & { note?: string; recorded: string }) => runCommand(o, async (ctx) => {
      const a = await ctx.client().call('addClassifierPattern', { body: { ...patternBody(o), recorded: o.recorded, ...(o.note !== undefined && { note: o.note }) } });
      ctx.print(a, () => renderAdded(a));
    }));

  apiOptions(patterns.command('remove').description('Remove a taught pattern (the next version); failures it renamed keep their name').argument('<id>', 'the pattern id, e.g. tp-3'))
    .action(async (id: string, o: CommonOptions) => runCommand(o, async (ctx) => {
      const r = await ctx.client().call('removeClassifierPattern', { params: { id } });
      ctx.print(r, () => renderRemoved(r));
    }));
}
