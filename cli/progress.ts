/**
 * How a followed pack is shown on standard error: a live cli-progress bar on a terminal,
 * a line per change otherwise (logs, CI, tests), nothing with --json. Recoveries are
 * printed above the bar as they happen.
 */
import cliProgress from 'cli-progress';
import type { PackView } from '../lambdas/api/schemas.ts';
import { formatCounts } from './format.ts';

export interface PackSnapshot {
  readonly pack: PackView;
  /** Failures the pack's jobs met so far (ledger entries seen). */
  readonly failures: number;
  /** Of those, the ones recovered. */
  readonly recovered: number;
}

export interface PackDisplay {
  update(s: PackSnapshot): void;
  /** A line above the progress: a recovery, a note. */
  log(line: string): void;
  stop(): void;
}

export type DisplayMode = 'bar' | 'lines' | 'none';

export function displayMode(o: { json: boolean; stream: NodeJS.WriteStream }): DisplayMode {
  if (o.json) return 'none';
  return o.stream.isTTY ? 'bar' : 'lines';
}

const summaryOf = (s: PackSnapshot) => {
  const total = s.pack.progress?.total ?? s.pack.jobCount;
  const done = s.pack.progress?.done ?? 0;
  return { done, total, text: `${s.pack.status} ${done}/${total} | ${s.pack.counts === undefined ? 'starting' : formatCounts(s.pack.counts)} | failures ${s.failures}, recovered ${s.recovered}` };
};

export function lineDisplay(stream: NodeJS.WritableStream, now: () => Date = () => new Date()): PackDisplay {
  let last = '';
  const stamp = () => now().toISOString().slice(11, 19);
  return {
    update(s) {
      const { text } = summaryOf(s);
      if (text === last) return;
      last = text;
      stream.write(`[${stamp()}] ${text}\n`);
    },
    log(line) {
      stream.write(`[${stamp()}] ${line}\n`);
    },
    stop() {},
  };
}

export function barDisplay(stream: NodeJS.WriteStream): PackDisplay {
  const multi = new cliProgress.MultiBar({
    stream,
    format: ' {bar} {done}/{total} {status} | {counts} | failures {failures}, recovered {recovered}',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  const bar = multi.create(1, 0, { done: 0, total: '?', status: 'pending', counts: 'starting', failures: 0, recovered: 0 });
  return {
    update(s) {
      const { done, total } = summaryOf(s);
      bar.setTotal(Math.max(1, total));
      bar.update(done, { done, total, status: s.pack.status, counts: s.pack.counts === undefined ? 'starting' : formatCounts(s.pack.counts), failures: s.failures, recovered: s.recovered });
    },
    log(line) {
      multi.log(`${line}\n`);
    },
    stop() {
      multi.stop();
    },
  };
}

export function createDisplay(mode: DisplayMode, stream: NodeJS.WriteStream = process.stderr): PackDisplay {
  if (mode === 'bar') return barDisplay(stream);
  if (mode === 'lines') return lineDisplay(stream);
  return { update() {}, log() {}, stop() {} };
}
