/**
 * The offline stack's child processes (DynamoDB Local's JVM, GPU workers) must not outlive
 * it: each is stopped with a grace period when the stack stops, and killed when this process
 * exits in any way that runs 'exit' listeners (process.exit, an uncaught error, the end of
 * the event loop), which a timed-out benchmark run or a crashed test otherwise skips.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
const killAll = () => {
  for (const c of live) c.kill('SIGKILL');
};

/** Kills `child` when this process exits, unless it has exited first. */
export function killOnExit(child: ChildProcess): void {
  if (live.size === 0) process.once('exit', killAll);
  live.add(child);
  child.once('exit', () => {
    live.delete(child);
    if (live.size === 0) process.removeListener('exit', killAll);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
