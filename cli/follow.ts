/**
 * `--wait` and `packs watch`: follow a pack to its end with a live display, then say how it
 * ended. Exit 0 when it ended complete; 1 when it ended otherwise or did not end in time,
 * so scripts can chain `vto packs submit --wait && …`.
 */
import type { PackView } from '../lambdas/api/schemas.ts';
import type { CommandContext } from './command-context.ts';
import { createDisplay, displayMode } from './progress.ts';
import { renderPackEnd } from './render-packs.ts';
import { watchPack, type WatchResult } from './watch.ts';

export interface FollowOptions {
  readonly intervalMs: number;
  readonly maxWaitMs: number;
}

export interface Followed {
  readonly result: WatchResult;
  readonly code: number;
}

export async function followPack(ctx: CommandContext, packId: string, o: FollowOptions): Promise<Followed> {
  const display = createDisplay(displayMode({ json: ctx.json, stream: process.stderr }));
  const result = await watchPack(ctx.client(), packId, { display, intervalMs: o.intervalMs, maxWaitMs: o.maxWaitMs });
  const p: PackView = result.pack;
  if (!result.ended) {
    process.stderr.write(`vto: pack ${packId} has not ended after ${Math.round(o.maxWaitMs / 1000)} s (still ${p.status}); keep following it with \`vto packs watch ${packId}\`\n`);
    return { result, code: 1 };
  }
  if (p.status !== 'complete') {
    const next = p.status === 'stopped' ? 'resume with `vto resume` or `vto packs restart-incomplete`' : `see \`vto packs show ${packId}\``;
    process.stderr.write(`vto: ${renderPackEnd(p)}; ${next}\n`);
    return { result, code: 1 };
  }
  return { result, code: 0 };
}
