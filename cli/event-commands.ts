/**
 * `vto events tail [--pack ID]`: the lifecycle events of the offline stack's local bus as
 * they happen, one line each (NDJSON with --json). On AWS the events are on the
 * pipeline's EventBridge bus: watch them with a rule to a target of yours.
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { lifecycleEventText } from '../core/lifecycle-text.ts';
import { apiOptions, runCommand, type CommonOptions } from './command-context.ts';
import { CliError } from './errors.ts';
import { checkId, intOption } from './options.ts';
import { resolveTarget } from './target.ts';

const pageSchema = z.object({
  events: z.array(z.object({ seq: z.int(), event: z.object({ 'detail-type': z.string(), time: z.string(), detail: z.record(z.string(), z.unknown()) }) })),
  next: z.int(),
});

/** One event as a line for people. */
export function renderEvent(e: { time: string; detail: Record<string, unknown> }): string {
  const t = lifecycleEventText(e.detail);
  return `${e.time}  ${t.type.padEnd(29)} ${t.subject}${t.note ? ` ${t.note}` : ''}`;
}

export function registerEventCommands(program: Command): void {
  const events = program.command('events').description('Lifecycle events of packs and jobs');
  apiOptions(events.command('tail')
    .description('Print lifecycle events as they happen (offline stack): pack started/completed/failed/stopped/cancelled, job completed/failed/recovered/cancelled')
    .option('--pack <id>', 'only the events of this pack')
    .option('--from-start', 'first print the events already on the bus')
    .addOption(new Option('--limit <n>', 'stop after this many events').argParser(intOption('--limit', 1, 1_000_000))))
    .action(async (o: CommonOptions & { pack?: string; fromStart?: boolean; limit?: number }) => runCommand(o, async (ctx) => {
      if (o.pack !== undefined) checkId('pack', o.pack);
      const target = resolveTarget(o);
      if (target.eventsUrl === undefined) {
        throw new CliError('NoEventBus', 'events tail reads the offline stack\'s local bus; on AWS, add an EventBridge rule on the pipeline\'s bus (source vto.pipeline) with a target of yours');
      }
      let after = 0;
      if (o.fromStart !== true) {
        const res = await fetch(`${target.eventsUrl}/events?after=0`, { signal: AbortSignal.timeout(ctx.timeoutMs) });
        after = pageSchema.parse(await res.json()).next;
      }
      let printed = 0;
      for (;;) {
        const q = new URLSearchParams({ after: String(after), waitMs: '20000', ...(o.pack !== undefined && { pack: o.pack }) });
        const res = await fetch(`${target.eventsUrl}/events?${q}`, { signal: AbortSignal.timeout(ctx.timeoutMs + 20_000) });
        const page = pageSchema.parse(await res.json());
        for (const { event } of page.events) {
          process.stdout.write(ctx.json ? `${JSON.stringify(event)}\n` : `${renderEvent(event)}\n`);
          if (o.limit !== undefined && ++printed >= o.limit) return 0;
        }
        after = page.next;
      }
    }));
}
