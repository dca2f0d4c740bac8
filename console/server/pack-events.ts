/**
 * A pack's lifecycle events for the console's pack panel, read from the offline stack's
 * local event bus (`GET {events}/events?after=N&pack=ID`): only that path on that bus,
 * with a checked pack id and sequence number, bounded in time and size. Each event goes
 * to the browser in words (core/lifecycle-text.ts), as `vto events tail` prints it.
 * Deployed, the events are on the pipeline's EventBridge bus and the console says so.
 */
import { z } from 'zod';
import { lifecycleEventText } from '../../core/lifecycle-text.ts';
import { zodIssues } from '../../lambdas/api/errors.ts';
import { idSchema } from '../../lambdas/api/schemas.ts';
import { ConsoleError } from './errors.ts';
import type { ConsoleTarget } from './target.ts';

export const NO_LOCAL_EVENTS = 'Lifecycle events are on the pipeline\'s EventBridge bus (source vto.pipeline); add a rule with a target of yours to watch them. The console lists them offline only, from the local bus.';

const querySchema = z.object({
  pack: idSchema,
  after: z.string().regex(/^\d{1,15}$/, 'must be a sequence number (a whole number ≥ 0)').default('0'),
}).strict();

const pageSchema = z.object({
  events: z.array(z.object({ seq: z.int(), event: z.object({ time: z.string(), detail: z.record(z.string(), z.unknown()) }) })),
  next: z.int(),
});

export interface PackEventView {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly jobId?: string;
  readonly note: string;
}

export interface PackEventsPage {
  readonly events: PackEventView[];
  /** Ask again with after=next for newer events. */
  readonly next: number;
}

const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface PackEventsReader {
  read(search: string): Promise<PackEventsPage>;
}

/** The reader of the target's local bus, or undefined when there is none (a deployed stack). */
export function packEventsReader(target: ConsoleTarget, timeoutMs: number): PackEventsReader | undefined {
  const bus = target.eventsUrl;
  if (bus === undefined) return undefined;
  return {
    async read(search) {
      const r = querySchema.safeParse(Object.fromEntries(new URLSearchParams(search)));
      if (!r.success) {
        throw new ConsoleError(400, 'ValidationFailed', 'The events query is invalid.', { issues: zodIssues('query', r.error) });
      }
      const q = new URLSearchParams({ after: r.data.after, pack: r.data.pack });
      let res: Response;
      try {
        res = await fetch(`${bus}/events?${q}`, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'TimeoutError' || name === 'AbortError') throw new ConsoleError(504, 'UpstreamTimeout', `The local event bus did not answer within ${Math.round(timeoutMs / 1000)} s.`);
        throw new ConsoleError(502, 'UpstreamUnreachable', `The local event bus cannot be reached: ${(e as Error).message}. Is the offline stack still running?`);
      }
      const text = await res.text();
      if (text.length > MAX_ANSWER_BYTES) throw new ConsoleError(502, 'UpstreamTooLarge', 'The local event bus answered with more than the console reads.');
      let page: z.infer<typeof pageSchema>;
      try {
        page = pageSchema.parse(JSON.parse(text));
      } catch {
        throw new ConsoleError(502, 'UpstreamNotJson', `The local event bus answered HTTP ${res.status} with a body that is not a page of events.`);
      }
      return {
        events: page.events.map(({ seq, event }) => {
          const t = lifecycleEventText(event.detail);
          return { seq, time: event.time, type: t.type, ...(t.jobId !== undefined && { jobId: t.jobId }), note: t.note };
        }),
        next: page.next,
      };
    },
  };
}
